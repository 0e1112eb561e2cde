// SPDX-License-Identifier: GPL-2.0-or-later
/* Attach and detach jobs: vdpa bus operations off the control thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vduse/vdpa.h"

#define NODE_TIMEOUT_MS 20000
#define DETACH_TIMEOUT_MS 20000

static void *attach_thread(void *arg)
{
	struct vdpa_job *job = arg;
	int r;

	job->step = VDPA_STEP_ADD;
	/* A device taken over may be on the bus already: adopt it as it is. */
	job->was_attached = vdpa_dev_is_attached(job->name);
	r = job->was_attached ? 0 : vdpa_dev_add(job->name);
	if (r == 0) {
		job->step = VDPA_STEP_BIND;
		r = vdpa_dev_bind(job->name, job->drv);
	}
	if (r == 0) {
		job->step = VDPA_STEP_NODE;
		r = vdpa_dev_node(job->name, job->drv, job->node, sizeof(job->node),
				  NODE_TIMEOUT_MS);
	}
	if (r < 0 && job->step != VDPA_STEP_ADD && !job->was_attached)
		vdpa_dev_del(job->name);   /* leave nothing half attached */
	job->result = r;
	eventfd_write(job->done_fd, 1);
	return NULL;
}

static void *detach_thread(void *arg)
{
	struct vdpa_job *job = arg;
	int r;

	job->step = VDPA_STEP_DEL;
	r = vdpa_dev_del(job->name);
	for (int waited = 0; r == 0 && vdpa_dev_is_attached(job->name); waited += 20) {
		if (waited > DETACH_TIMEOUT_MS) {
			r = -ETIMEDOUT;
			break;
		}
		usleep(20000);
	}
	job->result = r;
	eventfd_write(job->done_fd, 1);
	return NULL;
}

static int job_start(struct vdpa_job *job, const char *name, void *(*fn)(void *))
{
	pthread_t t;
	int r;

	snprintf(job->name, sizeof(job->name), "%s", name);
	job->result = 0;
	job->node[0] = '\0';
	job->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (job->done_fd < 0)
		return -errno;
	r = pthread_create(&t, NULL, fn, job);
	if (r) {
		close(job->done_fd);
		job->done_fd = -1;
		return -r;
	}
	job->thread = (unsigned long)t;
	job->is_running = true;
	return 0;
}

int vdpa_job_attach(struct vdpa_job *job, const char *name, enum vdpa_bus_driver drv)
{
	job->drv = drv;
	job->is_detach = false;
	return job_start(job, name, attach_thread);
}

int vdpa_job_detach(struct vdpa_job *job, const char *name)
{
	job->is_detach = true;
	return job_start(job, name, detach_thread);
}

int vdpa_job_finish(struct vdpa_job *job)
{
	if (!job || !job->is_running)
		return job ? job->result : 0;
	pthread_join((pthread_t)job->thread, NULL);
	job->is_running = false;
	close(job->done_fd);
	job->done_fd = -1;
	return job->result;
}
