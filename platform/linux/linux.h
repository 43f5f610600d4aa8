/* linux.h - private to the Linux backend (platform/linux/). */
#ifndef POMOVE_LINUX_H
#define POMOVE_LINUX_H

/* Maps an errno value to a PM_E* code and records it as the thread's OS
 * error. */
int pm__from_errno(int e);

extern const struct pm_io_engine_ops pm__engine_uring;

#endif
