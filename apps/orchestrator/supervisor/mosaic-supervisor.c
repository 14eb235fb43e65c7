/*
 * mosaic-supervisor: one per agent session, between the orchestrator and the agent
 * (like containerd's shim or podman's conmon), so that agents outlive an orchestrator
 * restart. This file is the reference of the protocol the orchestrator speaks with it.
 *
 *   mosaic-supervisor <spool-dir> <max-spool-bytes> <timeout-ms> <uid|-> <gid|-> <command>
 *
 * First reads the session's key from stdin: 64 hex digits (32 bytes) and '\n'. It is the
 * key of every MAC below (HMAC-SHA256, cut to its first 16 bytes, as 32 lower-case hex
 * digits): an agent of the same uid can write to any session's files and signal any
 * supervisor, so the orchestrator believes only what carries a MAC it can check. The key
 * is never in argv, the environment or a file, and the supervisor makes itself
 * non-dumpable, so that no agent of the same uid reads it from /proc or by ptrace (root
 * can; AGENT_USER keeps agents from being root).
 * Then runs `/bin/sh -c <command>` as the leader of its own process group (pgid = its pid)
 * with the supervisor's cwd and environment, stdin /dev/null, no other descriptor above 2;
 * bad arguments or no key: exit 2.
 * Everything below lives in <spool-dir>:
 *
 * identity  "<supervisor-pid> <supervisor-starttime> <agent-pid>\n", written atomically
 *           (starttime: field 22 of /proc/<pid>/stat, so a restarted orchestrator can
 *           tell this process from a later one that reuses the pid), and then once to
 *           stdout: from then on the supervisor takes stop requests.
 * spool.NNNNNN  append-only segments (spool.%06u from 1), rotated before a record would
 *           take a non-empty one past 1 MiB; a record is never split. One record a line,
 *           `<mac> <body>`, the MAC taken over <body>; <time> is when it was written (ms
 *           since the epoch):
 *             <seq> <time> O <line>    a stdout line (raw bytes, no '\n'; cut to 64 KiB)
 *             <seq> <time> E <line>    a stderr line
 *             <seq> <time> D <count>   lines dropped because the spool was at its bound
 *             <seq> <time> X <code|-> <signal|-> <kill|cancel|timeout|->   exit, always last
 *           seq counts written records from 1 without gaps; with the MAC over it, a record
 *           copied elsewhere or again is told apart. The time lets a restarted
 *           orchestrator hold a backlog to its rate limits as if it had read it live. Line records only ever take
 *           the segments on disk up to <max-spool-bytes>; the orchestrator deletes the
 *           oldest segments it has read (never the one being written), and a deleted
 *           segment is noticed only when a line would not fit. D and X are exempt.
 * stop      lines "<mac> kill" or "<mac> cancel <grace-ms>" appended by the orchestrator
 *           (each after a '\n', which ends any junk before it), followed by SIGUSR1; a line
 *           whose MAC (over the text after "<mac> ") does not check is ignored. kill:
 *           SIGKILL the group. cancel: SIGTERM it, SIGKILL after the grace (the first
 *           cancel's grace holds). The first request received before the leader exited is
 *           the X record's stop; <timeout-ms> (0: none) acts as a kill named "timeout".
 *           SIGTERM to the supervisor kills the group too, but names no stop: anyone of
 *           the same uid can send it.
 *
 * When the leader exits, the rest of its tree is killed (after a running cancel grace,
 * or as soon as the group empties) and reaped until it is gone: its group, and every
 * descendant, found in /proc, that left the group (setsid). As a child subreaper the
 * supervisor inherits the orphans, so nothing of the tree is alive when X is written.
 * X follows the pipes' EOF (at most 2 s later, should a process of another tree hold them). Afterwards the supervisor writes
 * nothing and lingers, reaping, until SIGUSR2 (the orchestrator has the last record) or
 * 10 minutes, then exits 0.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEGMENT_MAX 1048576ULL
#define LINE_MAX_BYTES 65536
#define KEY_BYTES 32
#define MAC_HEX 32 /* HMAC-SHA256 cut to 16 bytes, as hex */
#define MAC_FIELD (MAC_HEX + 1) /* "<mac> " */
#define HEADER_MAX (MAC_FIELD + 48) /* "<mac> <20-digit seq> <20-digit time> O " */
/* A segment is rotated only once it holds more than SEGMENT_MAX minus one record. */
#define CLOSED_SEGMENT_MIN (SEGMENT_MAX - (HEADER_MAX + LINE_MAX_BYTES + 1))
#define KILL_POLL_MS 5
#define DRAIN_MS 2000
#define LINGER_MS (10 * 60 * 1000)

struct stream {
  int fd;
  char kind;
  size_t len; /* line bytes so far; a line at LINE_MAX_BYTES discards the rest of itself */
  char buf[HEADER_MAX + LINE_MAX_BYTES + 1]; /* room for the header before the line */
};

static struct {
  int dir, fd;             /* fd: the current segment, -1 until opened */
  unsigned seg, oldest;    /* current segment, oldest believed still on disk */
  unsigned long long max, total, seq, dropped;
  unsigned long long *sizes; /* by segment number modulo cap: bounded by max, not output */
  size_t cap;
} spool = {.fd = -1, .seg = 1, .oldest = 1};

static struct stream out, err; /* zero-initialised: their buffers stay out of the binary */
static pid_t agent;
static int sigfd, leader_status;
static bool leader_exited, stop_received, killing, finished, quit;
static const char *stop_reason = "-";
static long long grace_end = -1; /* while >= 0 and !killing, a cancel's grace runs */
static off_t stop_read;          /* the stop file's bytes already acted on */

/* SHA-256 (FIPS 180-4) and HMAC (RFC 2104): small enough to keep here, where linking a
 * crypto library would be most of the binary. Checked against Node's crypto in the tests. */
struct sha256 {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char block[64];
};

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(struct sha256 *c, const unsigned char *p) {
  uint32_t w[64], v[8];
  for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(v, c->h, sizeof v);
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + K256[i] + w[i];
    uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof v[0]);
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++) c->h[i] += v[i];
}

static void sha256_init(struct sha256 *c) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, h0, sizeof h0);
  c->bytes = 0;
}

static void sha256_update(struct sha256 *c, const unsigned char *p, size_t n) {
  while (n > 0) {
    size_t used = c->bytes % 64, take = 64 - used < n ? 64 - used : n;
    memcpy(c->block + used, p, take);
    c->bytes += take, p += take, n -= take;
    if (c->bytes % 64 == 0) sha256_block(c, c->block);
  }
}

static void sha256_final(struct sha256 *c, unsigned char out[32]) {
  unsigned char pad[72] = {0x80};
  uint64_t bits = c->bytes * 8;
  size_t len = (c->bytes % 64 < 56 ? 56 : 120) - c->bytes % 64;
  for (int i = 0; i < 8; i++) pad[len + i] = (unsigned char)(bits >> (56 - 8 * i));
  sha256_update(c, pad, len + 8);
  for (int i = 0; i < 32; i++) out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static unsigned char key[KEY_BYTES];

/* The MAC of `n` bytes at `p`, as MAC_HEX hex digits at `hex` (not terminated). */
static void mac(const char *p, size_t n, char *hex) {
  unsigned char pad[64], digest[32];
  struct sha256 c;
  for (int i = 0; i < 64; i++) pad[i] = (i < KEY_BYTES ? key[i] : 0) ^ 0x36;
  sha256_init(&c);
  sha256_update(&c, pad, 64);
  sha256_update(&c, (const unsigned char *)p, n);
  sha256_final(&c, digest);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  sha256_init(&c);
  sha256_update(&c, pad, 64);
  sha256_update(&c, digest, 32);
  sha256_final(&c, digest);
  for (int i = 0; i < MAC_HEX / 2; i++) hex[2 * i] = "0123456789abcdef"[digest[i] >> 4], hex[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
}

/* A record of `len` bytes at `rec` (its last one '\n'), whose first MAC_FIELD bytes are kept for its MAC. */
static void seal(char *rec, size_t len) {
  mac(rec + MAC_FIELD, len - MAC_FIELD - 1, rec);
  rec[MAC_HEX] = ' ';
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wall-clock time for the records: the orchestrator that reads them compares it with its own. */
static long long epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int until(long long deadline) {
  if (deadline < 0) return -1;
  long long left = deadline - now_ms();
  return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static bool parse_ull(const char *s, unsigned long long *v) {
  char *end;
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  *v = strtoull(s, &end, 10);
  return errno == 0 && *end == '\0';
}

static bool parse_id(const char *s, long *id) {
  unsigned long long v;
  if (strcmp(s, "-") == 0) return *id = -1, true;
  if (!parse_ull(s, &v) || v >= (unsigned long long)(unsigned)-1) return false;
  return *id = (long)v, true;
}

/* Whole-or-nothing: a short write (ENOSPC) is retried, then reported. */
static bool write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= (size_t)w;
  }
  return true;
}

static bool spool_append(const char *rec, size_t len) {
  unsigned long long *size = &spool.sizes[spool.seg % spool.cap];
  if (spool.fd >= 0 && *size > 0 && *size + len > SEGMENT_MAX) {
    close(spool.fd);
    spool.fd = -1;
    size = &spool.sizes[++spool.seg % spool.cap];
    *size = 0;
  }
  if (spool.fd < 0) {
    char name[32];
    snprintf(name, sizeof name, "spool.%06u", spool.seg);
    spool.fd = openat(spool.dir, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (spool.fd < 0) return false;
  }
  if (!write_all(spool.fd, rec, len)) {
    /* Take back a partial record so that the segment stays a sequence of whole lines. */
    if (ftruncate(spool.fd, (off_t)*size) != 0) { /* nothing better to do */ }
    return false;
  }
  *size += len, spool.total += len, spool.seq++;
  return true;
}

static bool line_fits(size_t len) {
  while (spool.total + len > spool.max && spool.oldest < spool.seg) {
    char name[32];
    snprintf(name, sizeof name, "spool.%06u", spool.oldest);
    if (faccessat(spool.dir, name, F_OK, 0) == 0 || errno != ENOENT) break;
    spool.total -= spool.sizes[spool.oldest++ % spool.cap];
  }
  return spool.total + len <= spool.max;
}

static bool write_dropped(void) {
  char rec[MAC_FIELD + 64];
  if (spool.dropped == 0) return true;
  size_t n = MAC_FIELD + (size_t)snprintf(rec + MAC_FIELD, 64, "%llu %lld D %llu\n", spool.seq + 1, epoch_ms(), spool.dropped);
  seal(rec, n);
  if (!spool_append(rec, n)) return false;
  spool.dropped = 0;
  return true;
}

static void emit_line(struct stream *s) {
  char header[HEADER_MAX + 1];
  /* A pending D record goes first and takes the next seq. */
  int hlen = snprintf(header, sizeof header, "%llu %lld %c ", spool.seq + 1 + (spool.dropped > 0), epoch_ms(), s->kind);
  char *rec = s->buf + HEADER_MAX - hlen - MAC_FIELD;
  size_t len = MAC_FIELD + (size_t)hlen + s->len + 1;
  memcpy(rec + MAC_FIELD, header, (size_t)hlen);
  s->buf[HEADER_MAX + s->len] = '\n';
  s->len = 0;
  seal(rec, len);
  if (!line_fits(len) || !write_dropped() || !spool_append(rec, len)) spool.dropped++;
}

static void feed(struct stream *s, const char *p, size_t n) {
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t chunk = nl ? (size_t)(nl - p) : n;
    size_t take = chunk < LINE_MAX_BYTES - s->len ? chunk : LINE_MAX_BYTES - s->len;
    memcpy(s->buf + HEADER_MAX + s->len, p, take);
    s->len += take;
    if (!nl) return;
    emit_line(s);
    p += chunk + 1, n -= chunk + 1;
  }
}

static void close_stream(struct stream *s) {
  if (s->len > 0) emit_line(s); /* a last line without '\n' is still a line */
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static void read_stream(struct stream *s) {
  static char chunk[65536];
  ssize_t n = read(s->fd, chunk, sizeof chunk);
  if (n > 0) feed(s, chunk, (size_t)n);
  else if (n == 0 || (errno != EINTR && errno != EAGAIN)) close_stream(s);
}

static void reap_all(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == agent && !leader_exited) leader_exited = true, leader_status = status;
  }
}

static bool group_alive(void) { return kill(-agent, 0) == 0 || errno != ESRCH; }

/* SIGKILLs every live process below the supervisor, whatever its group (setsid takes a
 * process out of the agent's); returns how many it signalled. */
static int kill_descendants(void) {
  struct proc { pid_t pid, ppid; bool below; } *procs = NULL;
  size_t n = 0, cap = 0;
  DIR *dir = opendir("/proc");
  struct dirent *entry;
  while (dir && (entry = readdir(dir)) != NULL) {
    char path[64], stat[512], state;
    int ppid, pid = atoi(entry->d_name);
    if (pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = fd < 0 ? -1 : read(fd, stat, sizeof stat - 1);
    if (fd >= 0) close(fd);
    if (len <= 0) continue;
    stat[len] = '\0';
    char *p = strrchr(stat, ')'); /* fields after the command name, which may hold anything */
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || state == 'Z' || state == 'X') continue;
    if (n == cap) {
      struct proc *more = realloc(procs, (cap = cap * 2 + 256) * sizeof *procs);
      if (!more) break;
      procs = more;
    }
    procs[n++] = (struct proc){.pid = (pid_t)pid, .ppid = (pid_t)ppid};
  }
  if (dir) closedir(dir);
  /* A parent may come after its child in /proc: marked until nothing changes. */
  int killed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; i++) {
      if (procs[i].below) continue;
      bool below = procs[i].ppid == getpid();
      for (size_t j = 0; j < n && !below; j++) below = procs[j].below && procs[j].pid == procs[i].ppid;
      if (!below) continue;
      procs[i].below = changed = true;
      if (kill(procs[i].pid, SIGKILL) == 0) killed++;
    }
  }
  free(procs);
  return killed;
}

static void stop_request(const char *reason, bool cancel, long long grace_ms) {
  if (!stop_received) {
    stop_received = true;
    if (!leader_exited) stop_reason = reason;
  }
  if (!cancel) {
    killing = true;
    kill(-agent, SIGKILL);
  } else if (grace_end < 0 && !killing) {
    /* Only the first cancel signals: a second TERM makes some programs skip their cleanup. */
    grace_end = now_ms() + grace_ms;
    kill(-agent, SIGTERM);
  }
}

/* Whether a stop line "<mac> <request>" carries the MAC of its request. */
static bool authentic(const char *line) {
  char expected[MAC_HEX];
  size_t len = strlen(line);
  if (len <= MAC_FIELD || line[MAC_HEX] != ' ') return false;
  mac(line + MAC_FIELD, len - MAC_FIELD, expected);
  unsigned char diff = 0;
  for (int i = 0; i < MAC_HEX; i++) diff |= (unsigned char)(expected[i] ^ line[i]);
  return diff == 0;
}

/* Signals coalesce, so every unread line of the stop file is acted on. */
static void read_stop_file(void) {
  char buf[4096];
  struct stat st;
  int fd = openat(spool.dir, "stop", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  /* Cut short by someone else: read again from the start, where what is not authentic is ignored. */
  if (fstat(fd, &st) == 0 && st.st_size < stop_read) stop_read = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf - 1, stop_read);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf[n] = '\0';
    char *line = buf, *nl;
    unsigned long long grace;
    while ((nl = memchr(line, '\n', (size_t)(buf + n - line))) != NULL) {
      *nl = '\0';
      char *request = line + MAC_FIELD;
      if (!authentic(line)) { /* junk, or a forgery: not the orchestrator's */ }
      else if (strcmp(request, "kill") == 0) stop_request("kill", false, 0);
      else if (strncmp(request, "cancel ", 7) == 0 && parse_ull(request + 7, &grace) && grace < LLONG_MAX / 2)
        stop_request("cancel", true, (long long)grace);
      line = nl + 1;
    }
    if (line == buf && n == (ssize_t)sizeof buf - 1) line = buf + n; /* skip an absurd line */
    if (line == buf) break; /* an incomplete line: its SIGUSR1 is still to come */
    stop_read += line - buf;
  }
  close(fd);
}

static void handle_signals(void) {
  struct signalfd_siginfo info[8];
  ssize_t n = read(sigfd, info, sizeof info);
  for (ssize_t i = 0; i < n / (ssize_t)sizeof info[0]; i++) {
    switch (info[i].ssi_signo) {
    case SIGCHLD: reap_all(); break;
    case SIGUSR1: if (!finished) read_stop_file(); break;
    case SIGUSR2: quit = finished; break;
    case SIGTERM:
      if (finished) quit = true; /* a shutdown: nothing is left to supervise */
      else killing = true, kill(-agent, SIGKILL); /* no stop named: the sender may be any agent */
      break;
    }
  }
}

/* One turn of the loop: waits up to timeout_ms for a signal or agent output. */
static void pump(int timeout_ms) {
  struct pollfd fds[3] = {{.fd = sigfd, .events = POLLIN}};
  struct stream *streams[2];
  nfds_t n = 1;
  if (out.fd >= 0) streams[n - 1] = &out, fds[n++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
  if (err.fd >= 0) streams[n - 1] = &err, fds[n++] = (struct pollfd){.fd = err.fd, .events = POLLIN};
  if (poll(fds, n, timeout_ms) <= 0) return;
  if (fds[0].revents) handle_signals();
  for (nfds_t i = 1; i < n; i++)
    if (fds[i].revents) read_stream(streams[i - 1]);
}

/* Whatever the orchestrator let this process inherit is none of the agent's business. */
static bool close_from_3(void) {
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return true;
  DIR *dir = opendir("/proc/self/fd"); /* kernels before 5.9 */
  if (!dir) return false;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    int fd = atoi(entry->d_name);
    if (fd > 2 && fd != dirfd(dir)) close(fd);
  }
  closedir(dir);
  return true;
}

static void start_agent(const char *command, long uid, long gid) {
  int pout[2], perr[2];
  if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
    perror("mosaic-supervisor: pipe");
    exit(1);
  }
  agent = fork();
  if (agent < 0) {
    perror("mosaic-supervisor: fork");
    exit(1);
  }
  if (agent == 0) {
    sigset_t none;
    setpgid(0, 0);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY);
    const char *what = "/dev/null";
    if (null < 0 || dup2(null, 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0) goto fail;
    if (null > 2) close(null);
    what = "close descriptors";
    if (!close_from_3()) goto fail;
    what = "setgroups";
    if (setgroups(0, NULL) != 0 && (errno != EPERM || uid >= 0 || gid >= 0)) goto fail;
    what = "setgid";
    if (gid >= 0 && setgid((gid_t)gid) != 0) goto fail;
    what = "setuid";
    if (uid >= 0 && setuid((uid_t)uid) != 0) goto fail;
    what = "exec /bin/sh";
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
  fail:;
    char msg[256];
    int len = snprintf(msg, sizeof msg, "mosaic-supervisor: %s: %s\n", what, strerror(errno));
    if (write(2, msg, (size_t)len) < 0) { /* the agent's stderr is all we have */ }
    _exit(127);
  }
  /* Also here, so that the group exists before any kill(-pgid); EACCES once the child exec'd. */
  setpgid(agent, agent);
  close(pout[1]);
  close(perr[1]);
  out.fd = pout[0], out.kind = 'O';
  err.fd = perr[0], err.kind = 'E';
}

static void write_identity(void) {
  char stat[1024], line[128];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, stat, sizeof stat - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return;
  stat[n] = '\0';
  /* comm (field 2) may hold spaces and ')'; fields after the last ')' start at 3. */
  char *p = strrchr(stat, ')');
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  if (!p) return;
  int len = snprintf(line, sizeof line, "%d %llu %d\n", (int)getpid(), strtoull(p + 1, NULL, 10), (int)agent);
  fd = openat(spool.dir, "identity.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = write_all(fd, line, (size_t)len);
  close(fd);
  if (!ok || renameat(spool.dir, "identity.tmp", spool.dir, "identity") != 0) return;
  /* The same line on stdout tells the orchestrator that started us at once; stdout is
   * not used again (a dead reader must not matter), so it goes to /dev/null. */
  write_all(STDOUT_FILENO, line, (size_t)len);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) dup3(null, STDOUT_FILENO, 0), close(null);
}

static void write_exit(void) {
  char rec[MAC_FIELD + 128], code[16] = "-", sig[16] = "-";
  if (WIFEXITED(leader_status)) snprintf(code, sizeof code, "%d", WEXITSTATUS(leader_status));
  if (WIFSIGNALED(leader_status)) snprintf(sig, sizeof sig, "%d", WTERMSIG(leader_status));
  write_dropped();
  size_t n = MAC_FIELD + (size_t)snprintf(rec + MAC_FIELD, 128, "%llu %lld X %s %s %s\n", spool.seq + 1, epoch_ms(), code, sig, stop_reason);
  seal(rec, n);
  spool_append(rec, n);
}

/* The key: 64 hex digits and '\n' on stdin, which then becomes /dev/null. */
static bool read_key(void) {
  char line[2 * KEY_BYTES + 1];
  size_t got = 0;
  while (got < sizeof line) {
    ssize_t n = read(STDIN_FILENO, line + got, sizeof line - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += (size_t)n;
  }
  for (int i = 0; i < KEY_BYTES; i++) {
    unsigned byte;
    if (!isxdigit((unsigned char)line[2 * i]) || !isxdigit((unsigned char)line[2 * i + 1]) || sscanf(line + 2 * i, "%2x", &byte) != 1)
      return false;
    key[i] = (unsigned char)byte;
  }
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) dup3(null, STDIN_FILENO, 0), close(null);
  return line[2 * KEY_BYTES] == '\n';
}

int main(int argc, char **argv) {
  unsigned long long max, timeout;
  long uid, gid;
  /* Before the key is read: an agent of the same uid may then neither ptrace this process nor read its memory. */
  prctl(PR_SET_DUMPABLE, 0);
  /* Closed standard fds would be taken by our pipes and then clobbered in the child. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) return 1;
  if (argc != 7 || !*argv[1] || !parse_ull(argv[2], &max) || max == 0 || !parse_ull(argv[3], &timeout) ||
      timeout > LLONG_MAX / 2 || !parse_id(argv[4], &uid) || !parse_id(argv[5], &gid)) {
    fprintf(stderr, "usage: mosaic-supervisor <spool-dir> <max-spool-bytes> <timeout-ms> <uid|-> <gid|-> <command>\n");
    return 2;
  }
  if (!read_key()) {
    fprintf(stderr, "mosaic-supervisor: expected the session's key on stdin: 64 hex digits and a newline\n");
    return 2;
  }
  spool.max = max;
  spool.cap = max / CLOSED_SEGMENT_MIN + 4;
  spool.sizes = calloc(spool.cap, sizeof *spool.sizes);
  spool.dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (!spool.sizes || spool.dir < 0) {
    fprintf(stderr, "mosaic-supervisor: %s: %s\n", spool.sizes ? argv[1] : "max-spool-bytes", strerror(errno));
    return 2;
  }

  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGUSR1);
  sigaddset(&handled, SIGUSR2);
  sigaddset(&handled, SIGTERM);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  sigfd = signalfd(-1, &handled, SFD_CLOEXEC);
  if (sigfd < 0) {
    perror("mosaic-supervisor: signalfd");
    return 1;
  }

  start_agent(argv[6], uid, gid);
  long long timeout_at = timeout > 0 ? now_ms() + (long long)timeout : -1;
  write_identity();

  while (!leader_exited) {
    long long next = killing ? -1 : timeout_at;
    if (!killing && grace_end >= 0 && (next < 0 || grace_end < next)) next = grace_end;
    pump(until(next));
    if (leader_exited || killing) continue;
    if (timeout_at >= 0 && now_ms() >= timeout_at) stop_request("timeout", false, 0);
    else if (grace_end >= 0 && now_ms() >= grace_end) killing = true, kill(-agent, SIGKILL);
  }
  /* The leader is gone: a cancel's grace still lets the rest of the group finish. */
  while (grace_end >= 0 && !killing && now_ms() < grace_end && group_alive()) {
    long long left = grace_end - now_ms();
    pump(left < KILL_POLL_MS ? (int)left : KILL_POLL_MS);
    reap_all();
  }
  /* Repeated: a member may fork while the signal is delivered. We reap the zombies, so ESRCH comes. */
  for (;;) {
    kill(-agent, SIGKILL);
    int signalled = kill_descendants();
    reap_all();
    if (signalled == 0 && !group_alive()) break;
    pump(KILL_POLL_MS);
  }
  /* Only a process outside the tree (given a pipe's end over a socket) can still hold the pipes. */
  long long drain_end = now_ms() + DRAIN_MS;
  while ((out.fd >= 0 || err.fd >= 0) && now_ms() < drain_end) pump(until(drain_end));
  close_stream(&out);
  close_stream(&err);
  write_exit();
  finished = true;
  if (spool.fd >= 0) close(spool.fd);

  long long linger_end = now_ms() + LINGER_MS;
  while (!quit && now_ms() < linger_end) pump(until(linger_end));
  return 0;
}
