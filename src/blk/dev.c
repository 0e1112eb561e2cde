// SPDX-License-Identifier: GPL-2.0-or-later
/* virtio-blk feature bits and config space. */
#include <endian.h>
#include <string.h>

#include "blk/blk.h"

uint32_t blk_seg_max(uint16_t queue_size)
{
	/* A chain holds the header and the status besides the data. */
	uint32_t n = queue_size > 2 ? queue_size - 2u : 1u;

	return n < BLK_SEG_MAX_CAP ? n : BLK_SEG_MAX_CAP;
}

unsigned int blk_iov_per_req(uint16_t queue_size)
{
	return blk_seg_max(queue_size) + BLK_IOV_SLACK;
}

uint64_t blk_dev_features(const struct blk_dev *dev)
{
	uint64_t f = 0;

	f |= 1ULL << VIRTIO_BLK_F_SEG_MAX;
	f |= 1ULL << VIRTIO_BLK_F_BLK_SIZE;
	f |= 1ULL << VIRTIO_BLK_F_TOPOLOGY;
	/* FLUSH also says the write cache is volatile: the driver sends flushes. */
	if (!dev->is_write_through)
		f |= 1ULL << VIRTIO_BLK_F_FLUSH;
	if (dev->num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	if (dev->is_readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	if (dev->has_discard && !dev->is_readonly)
		f |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (dev->has_write_zeroes && !dev->is_readonly)
		f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static uint8_t log2_u32(uint32_t v)
{
	uint8_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

void blk_dev_config(const struct blk_dev *dev, struct virtio_blk_config *cfg)
{
	uint32_t lbs = dev->logical_block_size;
	uint32_t pbs = dev->physical_block_size > lbs ? dev->physical_block_size : lbs;

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(blk_dev_capacity(dev));
	cfg->seg_max = htole32(blk_seg_max(dev->queue_size));
	cfg->blk_size = htole32(lbs);
	cfg->physical_block_exp = log2_u32(pbs / lbs);
	cfg->min_io_size = htole16((uint16_t)((dev->min_io_bytes > lbs ? dev->min_io_bytes : lbs) / lbs));
	cfg->opt_io_size = htole32(dev->opt_io_bytes / lbs);
	cfg->num_queues = htole16(dev->num_queues);
	cfg->max_discard_sectors = htole32(BLK_MAX_DWZ_SECTORS);
	cfg->max_discard_seg = htole32(BLK_MAX_DWZ_SEG);
	cfg->discard_sector_alignment = htole32(lbs >> BLK_SECTOR_SHIFT);
	cfg->max_write_zeroes_sectors = htole32(BLK_MAX_DWZ_SECTORS);
	cfg->max_write_zeroes_seg = htole32(BLK_MAX_DWZ_SEG);
	cfg->write_zeroes_may_unmap = 1;
}
