/* fm_lock.h - the smallest portable mutex: pthreads on POSIX, SRW locks on Windows. Held only for
 * a few loads and stores (cache buckets, pointer swaps), never across a signature check. */
#ifndef FM_LOCK_H
#define FM_LOCK_H

#ifdef _WIN32
#include <windows.h>
typedef SRWLOCK fm_lock;
#define FM_LOCK_INITIALIZER SRWLOCK_INIT
static inline int fm_lock_init(fm_lock *l) { InitializeSRWLock(l); return 0; }
static inline void fm_lock_destroy(fm_lock *l) { (void)l; }
static inline void fm_lock_acquire(fm_lock *l) { AcquireSRWLockExclusive(l); }
static inline void fm_lock_release(fm_lock *l) { ReleaseSRWLockExclusive(l); }
#else
#include <pthread.h>
typedef pthread_mutex_t fm_lock;
#define FM_LOCK_INITIALIZER PTHREAD_MUTEX_INITIALIZER
static inline int fm_lock_init(fm_lock *l) { return pthread_mutex_init(l, NULL); }
static inline void fm_lock_destroy(fm_lock *l) { pthread_mutex_destroy(l); }
static inline void fm_lock_acquire(fm_lock *l) { pthread_mutex_lock(l); }
static inline void fm_lock_release(fm_lock *l) { pthread_mutex_unlock(l); }
#endif

#endif /* FM_LOCK_H */
