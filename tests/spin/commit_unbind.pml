/* commit_unbind.pml — a nonblocking page flip in flight while udrm-soc is unbound.
 *
 * points: drm.ioctl atomic.setup_commit atomic.commit_work soc.atomic_flush atomic.hw_done
 *         atomic.flip_done atomic.cleanup_done soc.irq soc.irq.flip_done drm.send_event
 *         driver.remove component.take_down soc.master_unbind drm.dev_unplug
 *         soc.crtc_disable soc.dc_unbind devres.release_group devres.release_all
 *
 * Point names: the label of the point "a.b" is a_b (Promela labels cannot contain '.'); a
 * second site of the same point in one process adds a "__why" suffix. Labels start a line.
 * tests/spin/check_labels.cmake checks every point listed above against UDRM_POINT("a.b")
 * under framework/, drivers/ and fakehw/.
 *
 * What is modelled (framework/src/kms/commit.cpp, atomic_helper_commit.cpp,
 * atomic_helper_shutdown.cpp, framework/src/drm/event.cpp, drivers/soc/soc_drv.cpp,
 * soc_crtc.cpp, soc_dc.cpp), one CRTC, one page flip with an event:
 *  - client: the atomic ioctl inside the gate: setup_commit (the event's completion is the
 *    commit's flip_done), swap_state (the commit goes on crtc->commit_list), queue commit_work.
 *  - worker: soc_commit_tail. atomic_flush takes the event out of the new state (under
 *    event_lock); inside dev_enter, with the pipe on, it parks the event in SocCrtc::event and
 *    writes CTRL.GO (hardware); if the gate is closed the event is sent at once. Then hw_done,
 *    wait_for_flip_done (10 s timeout: may give up), cleanup_done.
 *  - dc: the display controller and its interrupt (not inside the gate, by design: the IRQ
 *    lives until the dc component's devres group is released): GO latches at a vblank while
 *    the pipe is on and FLIP_DONE is enabled; the handler reads INT_STATUS (MMIO) and
 *    soc_crtc_finish_page_flip takes SocCrtc::event under event_lock and sends it.
 *  - unbind: a member's remove -> component take_down -> soc master unbind: drm_dev_unplug
 *    (closes the gate, waits for the ioctl), then atomic_helper_shutdown in the teardown
 *    section: a blocking disable commit that stalls on the flip's hw_done (no timeout) and
 *    flip_done (10 s timeout), whose soc_crtc_atomic_disable masks the interrupts, switches the
 *    pipe off (a pending GO is dropped) and sends a still-parked event; then
 *    wait_for_commits_idle (cleanup_done of every listed commit), then the dc component's
 *    unbind and its devres group: free_irq (waits for a running handler), MMIO unmapped.
 * The gate itself is verified in gate_unplug.pml; here dev_enter/unplug are atomic test-and-
 * count / close-and-wait. Spin's `true` branch of a timed wait is the 10 s timeout firing.
 * The client's file stays open (file_close.pml covers an event for a closing file).
 *
 * Properties:
 *  - the flip event is sent at most once (assert at every send) and, once everything is done,
 *    exactly once if the flip was queued — whether the IRQ, the worker or the disable sent it;
 *  - the worker touches the hardware only inside the gate: never once unplug has returned;
 *  - nobody touches the MMIO after it is unmapped (the IRQ handler included);
 *  - no deadlock (invalid end state).
 *
 * Broken variants (spin must find an error):
 *  - BROKEN_UNLOCKED_TAKE:  finish_page_flip in the IRQ reads and clears SocCrtc::event in two
 *                           steps, without event_lock: the disable sends it too.
 *  - BROKEN_NO_DISABLE_SEND: soc_crtc_atomic_disable does not send a parked event: a flip that
 *                           never latched (flip_done timed out) loses its event.
 *  - BROKEN_UNGATED_FLUSH:  atomic_flush writes GO without dev_enter.
 */

bool unplugged;           /* the gate's flag */
byte readers;             /* tasks inside the gate */
bool unplug_returned;

bool mmio = true;         /* the dc's MMIO mapping (devm, component group) */
bool irq_requested = true;
bool in_irq;              /* the handler is running */
bool int_en = true;       /* INT_ENABLE.FLIP_DONE */
bool pipe_on = true;      /* PIPE_CTRL.ENABLE: the CRTC is on */
bool go;                  /* CTRL.GO written, not latched yet */

byte ns_event;            /* the flip's event still in its new CRTC state */
byte parked;              /* SocCrtc::event */
byte sent;                /* times the flip event was sent */

bool queued;              /* the flip commit was swapped in and its work queued */
bool hw_done, flip_done, cleanup_done;   /* the flip commit's completions */

/* send_event -> send_locked: completes flip_done (the event's completion), queues the event. */
inline send_flip_event() {
  atomic {
    sent++;
    assert(sent == 1);
    flip_done = true
  }
}

proctype client() {
drm_ioctl:
  atomic {
    if
    :: !unplugged -> readers++
    :: else -> goto enodev     /* -ENODEV: no commit, no event */
    fi
  };
atomic_setup_commit:
  ns_event = 1;               /* the page flip's event, wired to flip_done */
  queued = true;              /* swap_state: on commit_list; commit_work queued */
  run worker();
  readers--;
enodev:
  skip
}

proctype worker() {
  byte e;
  bool entered;
atomic_commit_work:
  /* wait_for_dependencies: no earlier commit; soc_commit_tail: commit_planes -> atomic_flush */
  atomic { e = ns_event; ns_event = 0 };   /* take_state_event, under event_lock */
#ifdef BROKEN_UNGATED_FLUSH
  entered = true;
#else
  atomic {
    if
    :: !unplugged -> readers++; entered = true
    :: else -> entered = false
    fi
  };
#endif
  if
  :: entered ->
soc_atomic_flush:
     assert(mmio && !unplug_returned);   /* hardware access */
     if
     :: pipe_on ->
        atomic { parked = e };           /* c.event = e under event_lock (no stale one) */
        e = 0;
        atomic { assert(mmio); go = true }   /* PIPE_CTRL |= GO */
     :: else
     fi;
#ifndef BROKEN_UNGATED_FLUSH
     readers--
#else
     skip
#endif
  :: else
  fi;
  if
  :: e ->                     /* unplugged or pipe off: nothing will flip, send now */
drm_send_event:
     send_flip_event()
  :: else
  fi;
atomic_hw_done:
  hw_done = true;
atomic_flip_done:
  if                          /* wait_for_flip_done, 10 s timeout */
  :: flip_done
  :: true
  fi;
  /* soc_track_latched_buffers, cleanup_planes: no hardware */
atomic_cleanup_done:
  cleanup_done = true
}

/* The display controller: GO latches at a vblank; FLIP_DONE raises the interrupt. */
proctype dc() {
  byte e;
  do
  :: atomic { irq_requested && int_en && pipe_on && go -> go = false; in_irq = true };
soc_irq:
     assert(mmio);            /* INT_STATUS read and acknowledged */
soc_irq_flip_done:
#ifdef BROKEN_UNLOCKED_TAKE
     e = parked;
     parked = 0;
#else
     atomic { e = parked; parked = 0 };   /* soc_crtc_finish_page_flip, under event_lock */
#endif
     if
     :: e ->
drm_send_event:
        send_flip_event()
     :: else
     fi;
     in_irq = false
  :: !irq_requested -> break
  od
}

proctype unbind() {
  byte e;
driver_remove:
  skip;                       /* a member's remove(): component_del */
component_take_down:
  skip;
soc_master_unbind:
  skip;
drm_dev_unplug:
  atomic { unplugged = true };
  (readers == 0);             /* Gate::unplug waits for the sections */
  unplug_returned = true;
  /* atomic_helper_shutdown, in the teardown section: a blocking disable commit */
atomic_setup_commit:
  if
  :: queued ->
     (hw_done);               /* swap_state(stall): the previous commit's hw_done, no timeout */
     if                       /* wait_for_dependencies: flip_done, 10 s timeout */
     :: flip_done
     :: true
     fi
  :: else
  fi;
soc_crtc_disable:
  atomic { assert(mmio); int_en = false };          /* mask FLIP_DONE/VBLANK */
  atomic { assert(mmio); pipe_on = false; go = false };   /* pipe off, pending GO dropped */
#ifndef BROKEN_NO_DISABLE_SEND
  atomic { e = parked; parked = 0 };   /* "No FLIP_DONE will come": finish_page_flip */
  if
  :: e ->
drm_send_event:
     send_flip_event()
  :: else
  fi;
#endif
  /* the disable commit's own event goes out here (new state inactive); its hw_done,
   * flip_done and cleanup_done follow at once */
  skip;
  /* wait_for_commits_idle: cleanup_done of every commit still listed */
  if
  :: queued -> (cleanup_done)
  :: else
  fi;
  /* component_unbind_all: the dc member */
soc_dc_unbind:
  atomic { assert(mmio); assert(!pipe_on) };   /* PIPE_CTRL read: already off */
devres_release_group:
  irq_requested = false;      /* free_irq ... */
  (!in_irq);                  /* ... waits for a running handler */
  mmio = false;               /* devm_ioremap released */
devres_release_all:
  skip                        /* the member's own devres after remove() */
}

init {
  atomic {
    run client();
    run dc();
    run unbind()
  };
  (_nr_pr == 1);
  /* everything has run: the flip's event went out exactly once, the hardware is gone */
  assert(!queued || sent == 1);
  assert(!mmio && !in_irq)
}
