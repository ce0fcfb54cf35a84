/*
 * shm.h — the one SysV shared memory segment and what lives in it.
 *
 * The master creates the segment before forking (shmget(IPC_PRIVATE), shmat,
 * then IPC_RMID so it disappears with the last process); children inherit
 * the attachment, at the same address, through fork. Everything inside is
 * fixed-width and addressed by offsets from the segment base, never by
 * pointers, so the layout does not depend on where it is mapped.
 *
 * Locks are futex words holding the owner's pid: contenders spin briefly
 * then FUTEX_WAIT. The master never takes a lock; when a child dies it
 * calls shm_locks_release_dead(pid) which clears every registered lock
 * word holding that pid (compare-and-swap, no waiting). A waiter also takes
 * over a lock whose owner has died (or is a zombie) after 100 ms, so a slow
 * master delays but never hangs the others.
 *
 * Statistics are per-process counters (one writer each, no lock), summed on
 * read; a respawned process keeps its slot, so totals survive crashes.
 */
#ifndef PINHOLE_SHM_H
#define PINHOLE_SHM_H

#include "../base/base.h"

#include <sys/types.h>

#define SHM_MAGIC 0x50484d31u  /* "PHM1" */
#define SHM_VERSION 1u
#define SHM_MAX_PROCS 256      /* process table slots (all generations) */

typedef uint64_t shm_off;      /* offset from the segment base; 0 = none */

/* ---- locks ---------------------------------------------------------- */

struct shm_lock {
	uint32_t owner;            /* pid of the holder, 0 when free (atomic) */
	uint32_t waiters;          /* contenders sleeping in FUTEX_WAIT (atomic) */
};
_Static_assert(sizeof(struct shm_lock) == 8, "shm_lock layout");

/* The owner is a pid, so these are for single-threaded processes. Not
 * recursive. shm_unlock by a process that does not hold the lock logs an
 * error and leaves the lock as it is. */
void shm_lock(struct shm_lock *l);
bool shm_trylock(struct shm_lock *l);
void shm_unlock(struct shm_lock *l);
/* Registers count locks spaced stride bytes apart starting at l, so that
 * shm_locks_release_dead finds them. Call at creation, in the master; the
 * locks must live as long as the segment. -EINVAL if they are not inside
 * the segment, -ENOSPC when the registry (64 arrays) is full. */
int shm_lock_register(struct shm_lock *l, uint32_t count, uint32_t stride);
/* Frees every registered lock whose owner is pid and wakes its waiters;
 * returns how many. Never waits, so the master may call it. */
unsigned shm_locks_release_dead(pid_t pid);
/* The lock owner id is this process's pid, cached. A fork handler clears
 * the cache in the child, so callers need not do anything after fork();
 * a process created another way (clone, vfork) calls this first. */
void shm_proc_pid_refresh(void);

/* ---- process table -------------------------------------------------- */

enum proc_role {
	PROC_NONE = 0, PROC_MASTER, PROC_UDP, PROC_TCP, PROC_TLS, PROC_TIMER,
	PROC_RELAY, PROC_CTL, PROC_ROLE_COUNT
};

enum proc_state {
	PROC_FREE = 0,      /* slot unused */
	PROC_STARTING,      /* forked, not yet in its loop */
	PROC_RUNNING,
	PROC_RETIRING,      /* asked to finish gracefully (older generation) */
	PROC_DEAD,          /* exited; waiting for respawn backoff */
	PROC_STATE_COUNT
};

struct proc_entry {
	int32_t pid;
	uint8_t role;            /* enum proc_role */
	uint8_t state;           /* enum proc_state */
	uint16_t index;          /* index within its role ("udp#2") */
	uint32_t generation;     /* config generation it was started for */
	uint32_t restarts;       /* respawns of this slot after a crash */
	uint32_t listen;         /* index of the listen socket it serves */
	int64_t started;         /* CLOCK_REALTIME seconds of the current pid */
	int64_t first_started;   /* when the slot was first used */
};
_Static_assert(sizeof(struct proc_entry) == 40, "proc_entry layout");

/* "master", "udp", ... ("none" for PROC_NONE, "unknown" out of range). */
const char *proc_role_name(enum proc_role r);
/* "free", "starting", "running", "retiring", "dead" ("unknown"). */
const char *proc_state_name(enum proc_state s);

/* ---- statistics ----------------------------------------------------- */

/* Every counter, in one place. Names are "group.name" (see stat_name). */
#define STAT_LIST(X)                                                          \
	X(CORE_RCV_REQUESTS, "core.rcv_requests")                             \
	X(CORE_RCV_REPLIES, "core.rcv_replies")                               \
	X(CORE_FWD_REQUESTS, "core.fwd_requests")                             \
	X(CORE_FWD_REPLIES, "core.fwd_replies")                               \
	X(CORE_DROP_REQUESTS, "core.drop_requests")                           \
	X(CORE_DROP_REPLIES, "core.drop_replies")                             \
	X(CORE_ERR_REQUESTS, "core.err_requests")                             \
	X(CORE_BAD_MSG_HDR, "core.bad_msg_hdr")                               \
	X(CORE_BAD_URI, "core.bad_uris_rcvd")                                 \
	X(CORE_UNSUPPORTED_METHODS, "core.unsupported_methods")               \
	X(SL_SENT_REPLIES, "sl.sent_replies")                                 \
	X(SL_1XX, "sl.1xx_replies")                                           \
	X(SL_2XX, "sl.2xx_replies")                                           \
	X(SL_4XX, "sl.4xx_replies")                                           \
	X(SL_5XX, "sl.5xx_replies")                                           \
	X(SL_6XX, "sl.6xx_replies")                                           \
	X(SL_SEND_ERRORS, "sl.send_errors")                                   \
	X(CTL_REQUESTS, "ctl.requests")                                       \
	X(CTL_ERRORS, "ctl.errors")                                           \
	X(MASTER_RESPAWNS, "master.respawns")                                 \
	X(MASTER_RELOADS, "master.reloads")                                   \
	X(MASTER_RELOAD_ERRORS, "master.reload_errors")                       \
	X(AUTH_CHALLENGES, "auth.challenges")                                 \
	X(AUTH_FAILURES, "auth.failures")                                     \
	X(REGISTRAR_ACCEPTED, "registrar.accepted_regs")                      \
	X(REGISTRAR_REJECTED, "registrar.rejected_regs")                      \
	X(TM_TOTAL, "tm.total")                                               \
	X(TM_1XX, "tm.1xx")                                                   \
	X(TM_2XX, "tm.2xx")                                                   \
	X(TM_3XX, "tm.3xx")                                                   \
	X(TM_4XX, "tm.4xx")                                                   \
	X(TM_5XX, "tm.5xx")                                                   \
	X(TM_6XX, "tm.6xx")                                                   \
	X(TM_RPL_RECEIVED, "tm.rpl_received")                                 \
	X(TM_RPL_RELAYED, "tm.rpl_relayed")                                   \
	X(TM_RPL_GENERATED, "tm.rpl_generated")                               \
	X(TM_UNMATCHED_REPLIES, "tm.unmatched_replies")                       \
	X(TM_RCV_RETRANSMISSIONS, "tm.rcv_retransmissions")                   \
	X(TM_RETRANSMISSIONS, "tm.retransmissions")                           \
	X(TM_TIMEOUTS, "tm.timeouts")                                         \
	X(TM_TABLE_FULL, "tm.table_full")                                     \
	X(TM_ALLOC_FAILURES, "tm.alloc_failures")                             \
	X(NAT_PINGS_SENT, "nat.pings_sent")                                   \
	X(NAT_PONGS, "nat.pongs")                                             \
	X(NAT_BINDINGS_DROPPED, "nat.bindings_dropped")                       \
	X(NAT_BAD_PONGS, "nat.bad_pongs")                                     \
	X(NAT_PING_ERRORS, "nat.ping_errors")                                 \
	X(CORE_RCV_UDP, "core.rcv_msgs_udp")                                  \
	X(CORE_RCV_TCP, "core.rcv_msgs_tcp")                                  \
	X(CORE_RCV_TLS, "core.rcv_msgs_tls")                                  \
	X(TCP_ACCEPTED, "tcp.accepted")                                       \
	X(TCP_CONNECTED, "tcp.connected")                                     \
	X(TCP_CLOSED, "tcp.closed")                                           \
	X(TCP_REJECTED, "tcp.rejected")                                       \
	X(TCP_TIMEOUTS, "tcp.timeouts")                                       \
	X(TCP_BAD_FRAMES, "tcp.bad_frames")                                   \
	X(TCP_HANDOFFS, "tcp.handoffs")                                       \
	X(TCP_SEND_ERRORS, "tcp.send_errors")                                 \
	X(TLS_HANDSHAKES, "tls.handshakes")                                   \
	X(TLS_HANDSHAKE_FAILURES, "tls.handshake_failures")                   \
	X(TLS_VERIFY_FAILURES, "tls.verify_failures")                         \
	X(RELAY_SESSIONS_CREATED, "relay.sessions_created")                   \
	X(RELAY_SESSIONS_DELETED, "relay.sessions_deleted")                   \
	X(RELAY_SESSIONS_TIMEOUT, "relay.sessions_timeout")                   \
	X(RELAY_PACKETS, "relay.packets")                                     \
	X(RELAY_BYTES, "relay.bytes")                                         \
	X(RELAY_DROPPED, "relay.dropped")                                     \
	X(RELAY_LATCHES, "relay.latches")                                     \
	X(RELAY_PORTS_EXHAUSTED, "relay.ports_exhausted")                     \
	X(RELAY_CTL_COMMANDS, "relay.control_commands")                       \
	X(RELAY_CTL_ERRORS, "relay.control_errors")                           \
	X(RELAY_CTL_RETRANSMITS, "relay.control_retransmits")

enum stat_id {
#define STAT_ENUM(id, name) STAT_##id,
	STAT_LIST(STAT_ENUM)
#undef STAT_ENUM
	STAT_COUNT
};

/* Adds to this process's slot (set by shm_stats_bind): no lock, only a
 * relaxed atomic add. A process not bound to a slot (the master, tools,
 * unit tests) adds to a spare row shared by such processes; before
 * shm_create, to a row private to the process. */
void stat_add(enum stat_id id, uint64_t n);
#define STAT_INC(id) stat_add(STAT_##id, 1)
/* Summed over every slot and the spare row (the private row when no
 * segment is attached). */
uint64_t stat_get(enum stat_id id);
const char *stat_name(enum stat_id id);  /* NULL out of range */
/* Gauges: current sizes read from the shared tables when asked, reported
 * by `stats` next to the counters. */
unsigned stat_gauge_count(void);
const char *stat_gauge_name(unsigned i);
uint64_t stat_gauge_get(unsigned i);

/* Binds this process to its process-table slot's counters (a slot out of
 * range logs an error and keeps the spare row). */
void shm_stats_bind(unsigned slot);

/* ---- the segment ---------------------------------------------------- */

struct shm_header {
	uint32_t magic;
	uint32_t version;
	uint64_t size;             /* bytes of the segment */
	uint32_t generation;       /* config generation (master writes) */
	int32_t master_pid;
	int32_t log_level;         /* runtime log level, set by `log level` */
	uint32_t reload_seq;       /* bumped by the master after every reload try */
	int32_t reload_status;     /* 0 ok, else -errno of the last reload */
	int32_t shmid;             /* SysV id (already marked for removal) */
	int64_t started;           /* CLOCK_REALTIME seconds at master start */
	char reload_error[1024];   /* reasons of the last failed reload */
	struct proc_entry procs[SHM_MAX_PROCS];
	shm_off stats;             /* counter rows, one per slot + spare (stats.c) */
	shm_off alloc;             /* allocator state */
	shm_off lock_registry;     /* registered lock arrays */
	shm_off tables[16];        /* later parts: location, transactions, ... */
};
_Static_assert(sizeof(struct shm_header) == 11464, "shm_header layout");
_Static_assert(offsetof(struct shm_header, procs) % 8 == 0, "procs aligned");

/* The segment as attached in this process (set by shm_create). */
extern struct shm_header *shm;

/* Master: creates, attaches and marks for removal a segment of size bytes,
 * and lays out the header, allocator, lock registry and counters. Only a
 * few pages are touched. -EEXIST if one is attached, -EINVAL if size is too
 * small for the layout or above kernel.shmmax, else the -errno of the
 * failed call (logged). */
int shm_create(size_t size);
/* Detaches (a child before exec, or at exit). */
void shm_detach(void);

static inline void *shm_ptr(shm_off off)
{
	return off ? (void *)((char *)shm + off) : NULL;
}

static inline shm_off shm_off_of(const void *p)
{
	return p ? (shm_off)((const char *)p - (const char *)shm) : 0;
}

/* ---- allocator ------------------------------------------------------ */

/* Variable-sized shared objects, 16-byte aligned; process-safe (size-class
 * chunks under futex locks, no per-object header), so the master may call
 * them only before it forks. The contents of a new object are undefined.
 * 0 when full or for size 0 (counted in failures), or without a segment.
 * shm_free(0) does nothing; freeing anything that is not a live object is
 * logged, counted in bad_frees and ignored. */
shm_off shm_alloc(size_t size);
void shm_free(shm_off off);

/* size: bytes of the segment; used: the fixed layout plus live objects (at
 * their size-class size; objects over 32 KiB in whole 64 KiB chunks);
 * free = size - used, which includes space lost to fragmentation. */
struct shm_usage {
	uint64_t size, used, free;
	uint64_t allocs, frees, failures, bad_frees;
};
void shm_usage(struct shm_usage *u);

/* ---- location table (location.c, location_pack.c) ------------------- */

/* Slots of shm->tables[]. */
enum { SHM_T_LOCATION = 0, SHM_T_AUTH = 1, SHM_T_TM = 2, SHM_T_TCP = 3,
       SHM_T_RELAY = 4 };

/* The registrar's bindings: AOR key -> up to LOC_MAX_BINDINGS contacts.
 * A hash table of AOR records (key inside), each with a list of binding
 * records in insertion order (fixed fields and strings in one object).
 * A bucket's lock is one of at most LOC_STRIPES futex locks (bucket mod
 * stripes); a process may hold one at a time. All *_locked calls need
 * the lock of h taken by loc_lock; every call but loc_init, loc_buckets_for
 * and the two counts needs the table made by loc_init. Bucket count: loc_init(0) takes
 * loc_buckets_for(shm->size), i.e. shm_size / 256 (1<<20 for 256M);
 * any hint is rounded up to a power of two and clamped so that the bucket
 * array takes at most 1/16 of the segment. Writes are ordered so that a
 * process killed holding a lock leaves lists walkable (at worst a leaked
 * object or a counter off by one). */
#define LOC_MAX_AOR 255        /* bytes of an AOR key ("user@domain", lower-cased domain by the caller) */
#define LOC_MAX_BINDINGS 64    /* per AOR */
#define LOC_STRIPES 65536      /* locks, at most */
/* Longest field put accepts (-EINVAL beyond). */
#define LOC_MAX_CONTACT 1024
#define LOC_MAX_PATH 2048
#define LOC_MAX_CALL_ID 255
#define LOC_MAX_USER_AGENT 255
#define LOC_MAX_INSTANCE 255

enum loc_flags { LOC_F_NAT = 1, LOC_F_KEEPALIVE = 2 };

struct loc_addr {
	uint8_t family;            /* AF_INET/AF_INET6/0 */
	uint8_t proto;             /* enum conf_proto */
	uint16_t port;             /* host order */
	uint8_t addr[16];
};
_Static_assert(sizeof(struct loc_addr) == 20, "loc_addr layout");

struct loc_binding {            /* what callers pass in and read out */
	slice contact;     /* Contact URI as registered, without <> (URI params kept) */
	slice path;        /* Path header values (RFC 3327) joined with ",", may be empty */
	slice call_id;
	slice user_agent;
	slice instance;    /* +sip.instance value (RFC 5626), may be empty */
	int64_t expires;   /* absolute CLOCK_REALTIME seconds */
	int64_t last_modified;     /* CLOCK_REALTIME seconds */
	int64_t last_keepalive_ms; /* CLOCK_REALTIME ms of the last keepalive reply, 0 = never */
	uint32_t cseq;
	uint32_t reg_id;   /* RFC 5626 reg-id, 0 = none */
	uint32_t conn_id;  /* TCP/TLS connection id, 0 = none */
	uint32_t rtt_us;   /* last keepalive round trip */
	int16_t q;         /* q x 1000 (0..1000), -1 = none */
	uint8_t flags;     /* enum loc_flags */
	uint8_t socket;    /* index of the listen entry it arrived on */
	uint8_t nat_tests; /* NAT tests that fired at registration (enum sip_nat_test) */
	uint32_t branch_hash; /* hash of the top Via branch of the REGISTER that
	                         wrote it: its retransmissions are recognised */
	struct loc_addr received; /* source of the REGISTER (family 0 = not recorded) */
};

/* key is the caller's slice given to loc_lock (a copy of the record's key
 * during loc_walk); it must stay valid until loc_unlock. */
struct loc_handle {
	uint32_t bucket;
	shm_off aor;               /* 0 when the AOR has no record */
	slice key;
};

/* Master, before fork: table header, bucket array and lock stripes in shm
 * (locks registered). 0, -ENODEV without a segment, -EEXIST when done
 * already, -ENOMEM, or shm_lock_register's error. */
int loc_init(unsigned nbuckets_hint);
uint32_t loc_buckets_for(uint64_t shm_size);
uint32_t loc_bucket_total(void);    /* after loc_init */
/* Write-back mode (db.location): put and delete mark the AOR dirty, and
 * an AOR whose last binding goes stays as an empty record while dirty, so
 * the flush sees the deletion; loc_set_dirty_locked(h, false) frees it.
 * A plain store, any process may call it. */
void loc_set_write_back(bool on);

void loc_lock(slice aor, struct loc_handle *h);  /* takes the bucket's stripe lock, finds the record */
void loc_unlock(struct loc_handle *h);
unsigned loc_count_locked(const struct loc_handle *h);
/* Slices point into shm, valid until unlock; insertion order. -ENOENT. */
int loc_get_locked(const struct loc_handle *h, unsigned i, struct loc_binding *out);
/* Index of the binding with that contact URI (exact bytes), or -ENOENT. */
int loc_find_locked(const struct loc_handle *h, slice contact);
/* Index of the binding with that +sip.instance (exact bytes, non-empty)
 * and reg-id (RFC 5626 flow), or -ENOENT. */
int loc_find_flow_locked(const struct loc_handle *h, slice instance,
			 uint32_t reg_id);
/* Inserts, or replaces in place the binding with the same contact; creates
 * the AOR record. -ENOMEM when shm is full (nothing changed), -E2BIG past
 * LOC_MAX_BINDINGS, -EINVAL for an empty or oversized field or key, a q
 * outside -1..1000 or an unknown address family. */
int loc_put_locked(struct loc_handle *h, const struct loc_binding *b);
/* Frees the AOR record when its last binding goes (unless kept dirty in
 * write-back mode). -ENOENT for no such index. */
int loc_del_locked(struct loc_handle *h, unsigned i);
void loc_del_all_locked(struct loc_handle *h);
void loc_set_dirty_locked(struct loc_handle *h, bool dirty);   /* AOR changed since the last flush */
bool loc_dirty_locked(const struct loc_handle *h);
int loc_update_keepalive_locked(struct loc_handle *h, unsigned i, int64_t now_ms, uint32_t rtt_us);

/* The Berkeley DB value of an AOR: every binding and the key, in a
 * versioned little-endian format (location_pack.c). An AOR without
 * bindings packs to a record of none. */
#define LOC_PACK_HEAD 8
#define LOC_PACK_FIXED 79           /* fixed fields of a binding written now (version 2;
	                                       74 in version 1, 75 in early version 2) */
#define LOC_PACK_MAX (LOC_PACK_HEAD + LOC_MAX_AOR + LOC_MAX_BINDINGS *        \
	(2 + LOC_PACK_FIXED + LOC_MAX_CONTACT + LOC_MAX_PATH + LOC_MAX_CALL_ID +  \
	 LOC_MAX_USER_AGENT + LOC_MAX_INSTANCE))
size_t loc_pack_size_locked(const struct loc_handle *h);
/* Returns the length, -ENOSPC if cap is too small, -EINVAL for an empty
 * key or one longer than LOC_MAX_AOR. */
ssize_t loc_pack_locked(const struct loc_handle *h, void *buf, size_t cap);
/* Load path: checks the whole record, then inserts (under the lock, taken
 * here) the bindings whose expires > now; the AOR's dirty flag is left as
 * it was (a new record is clean). Returns bindings inserted, -EINVAL for a
 * malformed record (nothing inserted), or put's error after inserting
 * part of the record. */
int loc_unpack_put(const void *buf, size_t len, int64_t now);

/* Walks AOR records bucket by bucket from *cursor, at most max_buckets
 * buckets (0 = all) per call, calling fn with the bucket lock held for each
 * AOR present (fn may read, update or delete through h). Advances *cursor;
 * at the end wraps it to 0 and returns 1, else 0. fn returning non-zero
 * stops the walk (cursor stays on that bucket). Empty records that are not
 * kept for a write-back flush are freed after fn. */
int loc_walk(uint32_t *cursor, unsigned max_buckets,
	     int (*fn)(struct loc_handle *h, void *arg), void *arg);
uint64_t loc_aor_count(void);       /* AORs with a binding: usrloc.registered_users */
uint64_t loc_binding_count(void);   /* usrloc.contacts */

#endif
