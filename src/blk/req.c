// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-blk requests: parse a chain (header, data, status byte), check it
 * against the device, and write the status when it is done.
 *
 * The header may be split over several descriptors and the status byte is
 * the last byte of the device-writable part, wherever the driver put it.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "blk/blk.h"
#include "virtio/iov.h"

#define HDR_BYTES sizeof(struct virtio_blk_outhdr)

static int answer_now(struct blk_req *req, uint8_t status)
{
	req->op = BLK_OP_NONE;
	req->status = status;
	return 0;
}

/* Is [sector, sector + nr_sectors) inside the device?  Overflow-safe. */
static bool range_ok(const struct blk_dev *dev, uint64_t sector, uint64_t nr_sectors)
{
	uint64_t end;

	if (__builtin_add_overflow(sector, nr_sectors, &end))
		return false;
	return end <= blk_dev_capacity(dev);
}

static int parse_rw(const struct blk_dev *dev, struct blk_req *req, bool is_write,
		    uint64_t sector)
{
	struct vq_elem *e = &req->elem;
	struct iovec *iov;
	unsigned int nr;
	uint64_t bytes;

	if (is_write) {
		/* Data follows the header in the readable part. */
		iov = e->iov;
		nr = e->nr_out;
		iov_advance(&iov, &nr, HDR_BYTES);
		bytes = e->out_bytes - HDR_BYTES;
	} else {
		/* Data is the writable part but its last byte (the status). */
		iov = e->iov + e->nr_out;
		nr = e->nr_in;
		iov[nr - 1].iov_len--;
		if (iov[nr - 1].iov_len == 0)
			nr--;
		bytes = e->in_bytes - 1;
	}
	if (bytes % BLK_SECTOR_SIZE)
		return answer_now(req, VIRTIO_BLK_S_IOERR);
	/* used.len is 32 bits: a READ must be able to say how much it wrote. */
	if (!is_write && e->in_bytes > UINT32_MAX)
		return answer_now(req, VIRTIO_BLK_S_IOERR);
	if (!range_ok(dev, sector, bytes >> BLK_SECTOR_SHIFT))
		return answer_now(req, VIRTIO_BLK_S_IOERR);
	if (is_write && dev->is_readonly)
		return answer_now(req, VIRTIO_BLK_S_IOERR);
	req->op = is_write ? BLK_OP_WRITE : BLK_OP_READ;
	req->offset_bytes = sector << BLK_SECTOR_SHIFT;
	req->data_iov = iov;
	req->nr_data_iov = nr;
	req->data_bytes = bytes;
	if (!is_write)
		req->in_len = (uint32_t)e->in_bytes;
	return 0;
}

static int parse_dwz(const struct blk_dev *dev, struct blk_req *req, bool is_discard)
{
	struct vq_elem *e = &req->elem;
	uint64_t payload = e->out_bytes - HDR_BYTES;
	bool is_offered = is_discard ? dev->has_discard : dev->has_write_zeroes;

	if (!is_offered)
		return answer_now(req, VIRTIO_BLK_S_UNSUPP);
	if (dev->is_readonly)
		return answer_now(req, VIRTIO_BLK_S_IOERR);
	if (payload == 0 || payload % sizeof(struct virtio_blk_discard_write_zeroes) ||
	    payload / sizeof(struct virtio_blk_discard_write_zeroes) > BLK_MAX_DWZ_SEG)
		return answer_now(req, VIRTIO_BLK_S_UNSUPP);

	unsigned int nr = payload / sizeof(struct virtio_blk_discard_write_zeroes);

	req->nr_segs = 0;
	for (unsigned int i = 0; i < nr; i++) {
		struct virtio_blk_discard_write_zeroes s;
		uint64_t sector;
		uint32_t nr_sectors, flags;

		iov_to_buf(e->iov, e->nr_out, HDR_BYTES + i * sizeof(s), &s, sizeof(s));
		sector = le64toh(s.sector);
		nr_sectors = le32toh(s.num_sectors);
		flags = le32toh(s.flags);
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return answer_now(req, VIRTIO_BLK_S_UNSUPP);
		if (is_discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return answer_now(req, VIRTIO_BLK_S_UNSUPP);
		if (nr_sectors > BLK_MAX_DWZ_SECTORS || !range_ok(dev, sector, nr_sectors))
			return answer_now(req, VIRTIO_BLK_S_IOERR);
		/* An empty segment asks for nothing; a backend would call it EINVAL. */
		if (nr_sectors == 0)
			continue;
		req->segs[req->nr_segs++] = (struct backend_seg){
			.offset_bytes = sector << BLK_SECTOR_SHIFT,
			.len_bytes = (uint64_t)nr_sectors << BLK_SECTOR_SHIFT,
			.is_unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		};
	}
	if (req->nr_segs == 0)
		return answer_now(req, VIRTIO_BLK_S_OK);
	req->op = is_discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
	return 0;
}

static int parse_get_id(const struct blk_dev *dev, struct blk_req *req)
{
	struct vq_elem *e = &req->elem;
	size_t n = e->in_bytes - 1;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	iov_from_buf(e->iov + e->nr_out, e->nr_in, 0, dev->serial, n);
	req->in_len = (uint32_t)n + 1;
	return answer_now(req, VIRTIO_BLK_S_OK);
}

int blk_req_parse(const struct blk_dev *dev, struct blk_req *req)
{
	struct vq_elem *e = &req->elem;
	struct virtio_blk_outhdr hdr;
	struct iovec *last;
	uint32_t type;

	req->op = BLK_OP_NONE;
	req->status = VIRTIO_BLK_S_OK;
	/* The slot's previous request left its own pointer here. */
	req->status_ptr = NULL;
	req->in_len = 1;
	req->nr_segs = 0;
	req->nr_data_iov = 0;
	req->data_bytes = 0;
	if (e->in_bytes < 1 || e->out_bytes < HDR_BYTES)
		return -EINVAL;
	last = &e->iov[e->nr_out + e->nr_in - 1];
	req->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;

	iov_to_buf(e->iov, e->nr_out, 0, &hdr, sizeof(hdr));
	type = le32toh(hdr.type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(dev, req, false, le64toh(hdr.sector));
	case VIRTIO_BLK_T_OUT:
		return parse_rw(dev, req, true, le64toh(hdr.sector));
	case VIRTIO_BLK_T_FLUSH:
		req->op = BLK_OP_FLUSH;
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		return parse_get_id(dev, req);
	case VIRTIO_BLK_T_DISCARD:
		return parse_dwz(dev, req, true);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_dwz(dev, req, false);
	default:
		return answer_now(req, VIRTIO_BLK_S_UNSUPP);
	}
}

uint32_t blk_req_finish(struct blk_req *req, int res)
{
	uint8_t status = req->status;

	if (req->op != BLK_OP_NONE)
		status = res == 0 ? VIRTIO_BLK_S_OK :
			 res == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
	*req->status_ptr = status;
	/* The driver only learns how much data we wrote when it succeeded. */
	return status == VIRTIO_BLK_S_OK ? req->in_len : 1;
}
