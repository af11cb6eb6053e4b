/* gate_unplug.pml — drm_dev_enter / drm_dev_exit / drm_dev_unplug as udrm implements them.
 *
 * points: drm.ioctl gate.enter driver.remove drm.dev_unplug gate.unplug devres.release_all
 *
 * Point names: the label of the point "a.b" is a_b (Promela labels cannot contain '.'); a
 * second site of the same point in one process adds a "__why" suffix (gate_enter__nested).
 * Labels start a line. tests/spin/check_labels.cmake checks that every point listed above
 * exists as UDRM_POINT("a.b") under framework/, drivers/ or fakehw/ and has its label here.
 *
 * What is modelled (framework/include/udrm/core/gate.h, framework/src/core/gate.cpp,
 * framework/src/drm/drm_device.cpp, framework/src/core/device.cpp):
 *  - reader (an ioctl: drm_ioctl -> DrmFile::call -> dev_enter): announces itself in its own
 *    thread's counter (slot[id]++), then loads the flag; if unplugged it takes the count back
 *    and fails (-ENODEV). Inside, it touches the hardware and may nest a second section (which
 *    can fail while the outer one holds). Exit is one store to its own counter, its last touch.
 *  - unbind (Bus::release_driver -> remove() -> DrmDevice::unplug -> Gate::unplug): stores the
 *    flag, then polls the sum of every counter, one load per counter (Gate::readers() is a
 *    racy sum), until it is <= the sections the unbinding task holds itself (own_sections():
 *    udrm WARNs and waits only for the others). Then remove() opens the teardown section
 *    (enter succeeds for this task only, uncounted) and switches the hardware off; then devres
 *    releases the hardware (MMIO unmapped).
 *  - a second, concurrent caller of drm_dev_unplug (the kernel allows several; every caller
 *    must return only after the readers drained).
 * Promela is sequentially consistent: the store->load order on the reader side, which udrm gets
 * from membarrier() in unplug (or a reader fence without membarrier), is assumed here;
 * BROKEN_FLAG_FIRST shows what happens without it.
 *
 * Properties:
 *  - no reader touches the hardware once any unplug() has returned (assert in the reader);
 *  - unplug returns only when no other task is inside a section (assert at its return);
 *  - the teardown section never touches released hardware;
 *  - no deadlock (invalid end state) — safety run, -DSAFETY;
 *  - with -DLIVENESS: every unplug returns (LTL, weak fairness, pan -a -f).
 *
 * Broken variants (spin must find an error):
 *  - BROKEN_NO_WAIT:    unplug does not wait for the readers.
 *  - BROKEN_FLAG_FIRST: the reader tests the flag before its counter store is visible (the
 *                       store->load reordering the barrier exists to forbid).
 *  - BROKEN_COUNT_OWN:  unplug from inside the task's own section waits for itself too (the
 *                       kernel's deadlock); liveness run only (the poll loop never ends).
 */

#define NREADERS 2        /* reader threads: slot[0..NREADERS-1]; slot[NREADERS]: the unbinder */
#ifdef LIVENESS
#define ROUNDS 1          /* ioctls per reader (the liveness search is the costly one) */
#else
#define ROUNDS 2          /* ioctls per reader: the second one may meet the closed gate */
#endif

byte slot[NREADERS + 1];  /* Gate's per-thread counters */
bool unplugged;           /* Gate::unplugged_ */
bool unplug_returned;     /* some Gate::unplug() call has returned */
byte unplugs_returned;    /* how many have */
bool hw_released;         /* devres.release_all: the MMIO mapping is gone */
byte inside;              /* ghost: readers (not the unbinder) inside a section that succeeded */

#ifdef LIVENESS
ltl every_unplug_returns { <> (unplugs_returned == 2) }
#endif

/* Gate::unplug as called by DrmDevice::unplug: flag, barrier, poll the racy sum. */
inline gate_unplug_wait(own) {
  unplugged = true;            /* store seq_cst + heavy_barrier() (membarrier) */
#ifndef BROKEN_NO_WAIT
  do
  :: i = 0; sum = 0;
     do                        /* readers(): one load per counter, not a snapshot */
     :: i <= NREADERS -> sum = sum + slot[i]; i++
     :: else -> break
     od;
     if
     :: sum <= own -> break    /* wait_readers(own) */
     :: else                   /* spin / yield / sleep, then look again */
     fi
  od;
#endif
  assert(inside == 0);         /* every other reader has left */
  unplug_returned = true;
  unplugs_returned++
}

proctype reader(byte id) {
  byte n = 0;
#ifdef BROKEN_FLAG_FIRST
  bool seen;
#endif
  do
  :: n < ROUNDS ->
drm_ioctl:
     skip;                     /* DrmFile::call: get_active, then dev_enter */
gate_enter:
#ifdef BROKEN_FLAG_FIRST
     seen = unplugged;         /* the load overtakes the store still in the store buffer */
     slot[id]++;
     if
     :: seen -> slot[id]--; goto done
     :: else
     fi;
#else
     slot[id]++;               /* announce: relaxed store + compiler barrier */
     if
     :: unplugged -> slot[id]--; goto done   /* -ENODEV; no teardown section on this task */
     :: else
     fi;
#endif
     inside++;
     assert(!unplug_returned && !hw_released);   /* hardware access inside the section */
     if
     :: true ->                /* a nested dev_enter (a helper that guards itself) */
gate_enter__nested:
        slot[id]++;
        if
        :: unplugged -> slot[id]--            /* nested enter fails while the outer holds */
        :: else -> assert(!unplug_returned && !hw_released); slot[id]--
        fi
     :: true -> skip
     fi;
     inside--;
     slot[id]--;               /* EnterGuard dtor: the reader's last touch of the gate */
done:
     n++
  :: else -> break
  od
}

/* The driver's unbind: remove() unplugs (possibly from inside its own section), shuts the
 * hardware down in the teardown section, then devres releases the hardware. */
proctype unbind() {
  byte i, sum, own = 0;
driver_remove:
  if
  :: true ->                   /* remove() called while this task is inside a section */
     slot[NREADERS]++;         /* entered before the unplug: succeeds */
     own = 1
  :: true -> skip
  fi;
drm_dev_unplug:
  skip;
gate_unplug:
#ifdef BROKEN_COUNT_OWN
  gate_unplug_wait(0);
#else
  gate_unplug_wait(own);
#endif
  if
  :: own > 0 -> slot[NREADERS]--   /* leaves its own section */
  :: else
  fi;
  /* Gate::TeardownScope: enter() succeeds for this task only, not counted (kTeardownSlot). */
  assert(!hw_released);        /* atomic_helper_shutdown switches the outputs off */
devres_release_all:
  hw_released = true
}

/* Another drm_dev_unplug caller (drm_dev_unplug is idempotent, every caller waits). */
proctype unplugger() {
  byte i, sum;
  gate_unplug_wait(0)
}

init {
  atomic {
    run reader(0);
    run reader(1);
    run unbind();
    run unplugger()
  }
}
