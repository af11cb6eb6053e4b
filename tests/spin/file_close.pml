/* file_close.pml — a client's close racing its own ioctl, read and mapping, an in-flight
 * commit's event, and the driver's unbind; the device's final put.
 *
 * points: kref.get_unless_zero drm.open drm.ioctl drm.event_reserve atomic.setup_commit
 *         drm.send_event drm.read drm.mmap drm.close drm.release drm.dev_release
 *         driver.remove drm.dev_unplug devres.release_all
 *
 * Point names: the label of the point "a.b" is a_b (Promela labels cannot contain '.'); a
 * second site of the same point in one process adds a "__why" suffix. Labels start a line.
 * tests/spin/check_labels.cmake checks every point listed above against UDRM_POINT("a.b")
 * under framework/, drivers/ and fakehw/.
 *
 * What is modelled (framework/src/drm/file.cpp, event.cpp, minor.cpp, drm_device.cpp,
 * framework/include/udrm/drm/file.h, framework/include/udrm/base/refcount.h):
 *  - the device kref: the binding's reference (dropped by devm at unbind), one per open file
 *    (dropped by the file's release), one per atomic state in flight (dropped when its work
 *    is done), and drm_open_minor's temporary one. The put is fetch_sub(acq_rel) and a test of
 *    the old value: exactly one putter sees 1 and runs kref_release (drm.dev_release).
 *  - open (init): drm_minor_acquire (registered, get_unless_zero; modelled under the minor table lock, the code reads it lock-free and re-checks),
 *    DrmFile::open (unplugged? fail; the file takes its reference; published; unplugged again?
 *    close it: its release drops that reference).
 *  - the file's active count (DrmFile::active_): 1 for "open", +1 per call in flight (ioctl,
 *    read, mmap) and per mapping. get_active: closed? fail; then CAS from n > 0 to n + 1.
 *    put_active: fetch_sub; whoever drops it to 0 runs release() (drm.release) — close()
 *    itself returns at once.
 *  - one page-flip event: reserved in the ioctl (file_priv = the file, on its pending list),
 *    carried by the commit, sent by the worker: to the file's event list if file_priv is set,
 *    freed otherwise. release() detaches reserved events (file_priv = NULL) and frees queued
 *    ones, under event_lock. drm_read takes queued events while holding an active reference.
 *  - unbind: drm_dev_unplug (gate closed, waits for sections; unregisters the minor), then
 *    devres drops the binding's reference.
 * A final release is a process started by the putter (udrm's putter does nothing after it, so
 * the interleavings are the same). The gate is a test-and-count here (gate_unplug.pml checks it).
 *
 * Properties:
 *  - the device is released exactly once, with no reference left, and nothing uses it after
 *    (every use asserts !dev_freed); when everything has run it has been released (no leak);
 *  - the file is released exactly once, only when closed, with no call or mapping left;
 *  - the event is queued only on a file that has not been released; an event for a closed
 *    file is dropped; it is freed exactly once (read, release or send frees it) — no leak;
 *  - no deadlock (invalid end state).
 *
 * Broken variants (spin must find an error):
 *  - BROKEN_SEND_NO_CHECK:  send queues the event on the file it was reserved for without
 *                           looking at file_priv (the closed-file check).
 *  - BROKEN_PUT_NOT_ATOMIC: the kref put decrements, then re-reads the count to test it.
 *  - BROKEN_NO_STATE_REF:   the in-flight commit holds no device reference.
 */

#define EV_NONE     0
#define EV_RESERVED 1   /* on the file's pending list, file_priv = the file */
#define EV_DETACHED 2   /* the file was released: file_priv = NULL, still with the commit */
#define EV_QUEUED   3   /* on the file's event list, readable */
#define EV_FREED    4

byte dev_refs = 1;        /* the binding's reference (devm_drm_dev_alloc) */
byte dev_freed;           /* kref_release runs */
bool registered = true;   /* the minor is registered (drm_dev_register) */
bool unplugged;
byte gate_readers;

bool file_open;           /* DrmFile::open succeeded (published) */
bool closed;              /* DrmFile::closed_ */
byte active_refs;         /* DrmFile::active_ */
byte file_releases;
bool events_released;     /* release_events has run: the file takes no more events */
bool mapped;

byte ev = EV_NONE;
byte ev_frees;

inline dev_use() {
  assert(!dev_freed)
}

proctype dev_release() {
drm_dev_release:
  atomic {
    assert(dev_refs == 0);
    dev_freed++;
    assert(dev_freed == 1)    /* drmm actions, minors freed, the container deleted */
  }
}

/* drm_dev_put -> Kref::put */
inline dev_put() {
#ifdef BROKEN_PUT_NOT_ATOMIC
  dev_refs--;
  if
  :: dev_refs == 0 -> run dev_release()
  :: else
  fi
#else
  atomic {
    dev_refs--;               /* fetch_sub(1, acq_rel) ... */
    if
    :: dev_refs == 0 -> run dev_release()   /* ... returned 1: the final put */
    :: else
    fi
  }
#endif
}

/* drm_file_free's order: filelist, events, KMS state, handles, master, device reference. */
proctype file_release() {
  bool last;
drm_release:
  atomic {
    assert(closed && active_refs == 0 && !mapped);
    file_releases++;
    assert(file_releases == 1)
  };
  dev_use();                  /* filelist_mutex */
  atomic {                    /* release_events, under event_lock */
    dev_use();
    if
    :: ev == EV_RESERVED -> ev = EV_DETACHED
    :: ev == EV_QUEUED -> ev = EV_FREED; ev_frees++
    :: else
    fi;
    events_released = true
  };
  dev_put()                   /* drm_minor_release: may be the final put */
}

inline put_active() {
  atomic {
    active_refs--;
    if
    :: active_refs == 0 -> run file_release()
    :: else
    fi
  }
}

/* DrmFile::get_active: closed? then CAS n -> n + 1 unless n == 0. Sets ok. */
inline get_active() {
  if
  :: closed -> ok = false
  :: else ->
     atomic {
       if
       :: active_refs > 0 -> active_refs++; ok = true
       :: else -> ok = false
       fi
     }
  fi
}

/* A nonblocking page flip with an event. */
proctype ioctl_thread() {
  bool ok, entered;
drm_ioctl:
  get_active();
  if
  :: !ok -> goto out          /* -EBADF */
  :: else
  fi;
  atomic {                    /* dev_enter */
    dev_use();
    if
    :: !unplugged -> gate_readers++; entered = true
    :: else -> entered = false
    fi
  };
  if
  :: entered ->
drm_event_reserve:
     atomic { dev_use(); ev = EV_RESERVED };   /* under event_lock; event_space checked */
atomic_setup_commit:
#ifndef BROKEN_NO_STATE_REF
     atomic { dev_use(); dev_refs++ };         /* the atomic state's Ref<DrmDevice> */
#endif
     run worker();            /* commit_work queued; the event travels with the commit */
     gate_readers--
  :: else                     /* -ENODEV */
  fi;
  put_active();
out:
  skip
}

/* The commit worker (or the vblank interrupt) that completes the flip. */
proctype worker() {
  bool ok;
drm_send_event:
  atomic {
    dev_use();                /* event_lock lives in the device */
#ifdef BROKEN_SEND_NO_CHECK
    if
    :: ev == EV_RESERVED || ev == EV_DETACHED -> assert(!events_released); ev = EV_QUEUED
    fi
#else
    if
    :: ev == EV_RESERVED -> assert(!events_released); ev = EV_QUEUED   /* file_priv set */
    :: ev == EV_DETACHED -> ev = EV_FREED; ev_frees++                 /* file gone: dropped */
    fi
#endif
  };
  /* the atomic state's final put: drops its device reference */
#ifndef BROKEN_NO_STATE_REF
  dev_put()
#else
  skip
#endif
}

proctype reader() {
  bool ok;
  get_active();
  if
  :: !ok -> goto out          /* -EBADF */
  :: else
  fi;
drm_read:
  atomic {                    /* under event_lock; nonblocking: -EAGAIN if empty */
    dev_use();
    assert(!events_released);
    if
    :: ev == EV_QUEUED -> ev = EV_FREED; ev_frees++   /* copied to userspace, freed */
    :: else
    fi
  };
  put_active();
out:
  skip
}

proctype closer() {
drm_close:
  atomic { assert(!closed); closed = true };   /* closed_.exchange(true) */
  put_active()                /* the open reference */
}

/* mmap of a dumb buffer, then munmap: the mapping holds the file (and the object). */
proctype mapper() {
  bool ok, entered;
  get_active();
  if
  :: !ok -> goto out
  :: else
  fi;
  atomic {
    dev_use();
    if
    :: !unplugged -> gate_readers++; entered = true
    :: else -> entered = false
    fi
  };
  if
  :: entered ->
drm_mmap:
     atomic { active_refs++; mapped = true };   /* the vma's active reference */
     gate_readers--
  :: else                     /* -ENODEV */
  fi;
  put_active();               /* the call's reference */
  if
  :: entered ->               /* munmap */
     atomic {
       mapped = false;
       active_refs--;
       if
       :: active_refs == 0 -> run file_release()
       :: else
       fi
     }
  :: else
  fi;
out:
  skip
}

proctype unbind() {
driver_remove:
  skip;
drm_dev_unplug:
  atomic { dev_use(); unplugged = true };
  (gate_readers == 0);
  registered = false;         /* unregister: the minor no longer opens */
devres_release_all:
  dev_put()                   /* devm_drm_dev_put: the binding's reference */
}

init {
  bool ok;
  run unbind();
  /* drm_open_minor: registered, get_unless_zero (modelled atomically; the code is lock-free + re-check) */
kref_get_unless_zero:
  atomic {
    if
    :: registered && dev_refs > 0 -> dev_refs++; ok = true
    :: else -> ok = false
    fi
  };
  if
  :: ok ->
drm_open:
     if
     :: unplugged -> ok = false
     :: else ->
        atomic { dev_use(); dev_refs++; active_refs = 1 };   /* the file's reference */
        if
        :: unplugged ->       /* raced with unplug: close it, -ENODEV */
           closed = true;
           ok = false;
           put_active()
        :: else -> file_open = true
        fi
     fi;
     dev_put()                /* drm_open_minor's reference */
  :: else                     /* -ENODEV */
  fi;
  if
  :: ok ->
     atomic {
       run ioctl_thread();
       run reader();
       run mapper();
       run closer()
     }
  :: else
  fi;
  (_nr_pr == 1);
  /* everything has run: nothing leaked, nothing freed twice */
  assert(dev_freed == 1 && dev_refs == 0);
  assert(!file_open || file_releases == 1);
  assert(ev == EV_NONE || (ev == EV_FREED && ev_frees == 1))
}
