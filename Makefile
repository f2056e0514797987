# sandq — build, test, install.
#
#   make                      build everything
#   make check                unit, integration and hostile-corpus tests (TAP)
#   make SANITIZE=1 check     the same with ASan + UBSan
#   make check-v2             the v2 lane: a qemu guest with systemd and cgroup v2
#   make install              PREFIX=/usr/local DESTDIR= (make uninstall: the same)
#   make format-check         clang-format over the C sources
#   make deps                 install the Debian packages needed (root)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/sandq
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Units of a package (PREFIX=/usr) go where packages put theirs; those of
# a local install, where the administrator's go.
ifeq ($(PREFIX),/usr)
UNITDIR ?= /lib/systemd/system
else
UNITDIR ?= /etc/systemd/system
endif
DESTDIR ?=

CC ?= cc
BUILD ?= build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wno-missing-field-initializers -Wno-format-nonliteral -Wno-format-truncation
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -DSANDQ_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS += -pie -Wl,-z,relro -Wl,-z,now

ifeq ($(SANITIZE),1)
  BUILD := build-san
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
  LDFLAGS += -fsanitize=address,undefined
  HARDEN := -fPIE
endif
CFLAGS += $(HARDEN)

PKGS_QUEUE := hiredis jansson libarchive libsodium
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
QUEUE_LIBS := $(shell pkg-config --libs $(PKGS_QUEUE) 2>/dev/null || echo -lhiredis -ljansson -larchive -lsodium)
# The worker never maps libarchive: sandq-archiver does its archives.
# libsodium seals results to their submitters' keys.
WORKER_LIBS := $(shell pkg-config --libs hiredis jansson libsodium 2>/dev/null || echo -lhiredis -ljansson -lsodium)
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
ARCHIVE_LIBS := $(shell pkg-config --libs libarchive 2>/dev/null || echo -larchive)
# sandq mcp: base64 and SHA-256.
NETTLE_LIBS := $(shell pkg-config --libs nettle 2>/dev/null || echo -lnettle)
NET_LIBS := $(shell pkg-config --libs libnftables libmnl 2>/dev/null || echo -lnftables -lmnl)

# Dependency-free shared code: usable by the sandbox.
COMMON_SRC := common/err.c common/log.c common/util.c common/status.c common/tree.c \
              common/joblimits.c common/fdpass.c
# The queue side: may use COMMON, hiredis, jansson, libarchive; never the
# sandbox.
QUEUE_SRC := common/redis.c common/redis_script.c common/proto.c common/fleet.c common/jobread.c common/spec.c common/acl.c common/seal.c \
             common/archive.c common/unpack.c common/config.c
WORKER_SRC := worker/main.c worker/config.c worker/supervisor.c worker/slot.c worker/job.c \
              worker/archiver_client.c \
              worker/metrics.c worker/notify.c worker/netpolicy.c worker/live.c
SUBMIT_SRC := $(wildcard submitter/*.c)
# The sandbox library: may use COMMON and libseccomp only.
SANDBOX_SRC := sandbox/cgroup.c sandbox/cgroup_v1.c sandbox/cgroup_v2.c sandbox/seccomp_load.c sandbox/sandbox.c \
               sandbox/rootfs.c sandbox/run.c sandbox/child.c sandbox/supervise.c sandbox/verdict.c \
               sandbox/netns.c sandbox/prewarm.c sandbox/scratch.c \
               sandbox/loopback.c \
               sandbox/network.c sandbox/helpers.c
# sandq-init, every sandbox's pid 1 (sandbox/init_proto.h): a program of
# its own, embedded in the sandbox library. It is linked statically with
# musl, never sanitized: glibc's static start-up alone (CPU feature
# probing: each cpuid traps to the hypervisor on a VM) cost ~0.2 ms per
# sandbox; musl's, ~0.03 ms. musl-gcc sees the kernel's headers through
# $(BUILD)/musl-include.
MUSL_CC ?= musl-gcc
INIT_SRC := sandbox/init.c sandbox/init_program.c sandbox/rootfs.c sandbox/loopback.c \
            sandbox/seccomp_load.c common/err.c common/util.c common/fdpass.c
INIT_CFLAGS := -O2 -g -std=gnu11 $(WARN) -fstack-protector-strong -MMD -MP \
               -I$(BUILD)/gen -isystem $(BUILD)/musl-include
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBCOMMON := $(BUILD)/libsandq-common.a
LIBSANDBOX := $(BUILD)/libsandq-sandbox.a
LIBQUEUE := $(BUILD)/libsandq-queue.a

BINS := $(BUILD)/sandq-sandbox $(BUILD)/sandq-worker $(BUILD)/sandq
LIBEXEC_BINS := $(BUILD)/sandq-archiver $(BUILD)/sandq-scope $(BUILD)/sandq-net
BENCH := $(BUILD)/bench/sandbox-latency $(BUILD)/bench/queue-bench
FUZZ_REPLAY := $(BUILD)/tests/fuzz-replay-spec $(BUILD)/tests/fuzz-replay-unpack
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(BUILD)/tests/deny-syscall $(BUILD)/tests/big-command \
		$(BUILD)/tests/wake-claim

MANPAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))

all: programs $(UNIT_TESTS) $(TEST_HELPERS) $(BENCH) $(FUZZ_REPLAY)

# What is installed: no test, benchmark or fuzz program.
programs: $(BINS) $(LIBEXEC_BINS) $(MANPAGES)

# Man pages, from one scdoc source each (man/*.scd).
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	@command -v scdoc >/dev/null || { echo "scdoc not found: run scripts/install-deps (Debian: scdoc)" >&2; exit 1; }
	scdoc < $< > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@rm -f $@
	ar rcs $@ $^

# The seccomp policy is compiled once, here, by libseccomp.
$(BUILD)/gen-seccomp: $(call obj,sandbox/gen_seccomp.c sandbox/seccomp.c) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(SECCOMP_LIBS)

$(BUILD)/gen/seccomp_filter.h: $(BUILD)/gen-seccomp
	@mkdir -p $(dir $@)
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/sandbox/seccomp_load.o: $(BUILD)/gen/seccomp_filter.h
$(BUILD)/sandbox/seccomp_load.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/gen/lua_scripts.h: scripts/embed-lua $(wildcard common/lua/*.lua)
	@mkdir -p $(dir $@)
	scripts/embed-lua common/lua > $@.tmp && mv $@.tmp $@

$(BUILD)/common/proto.o: $(BUILD)/gen/lua_scripts.h
$(BUILD)/common/proto.o: CFLAGS += -I$(BUILD)/gen

$(LIBQUEUE): $(call obj,$(QUEUE_SRC))
	@rm -f $@
	ar rcs $@ $^

# The worker is where the queue and the sandbox meet.
$(BUILD)/sandq-worker: $(call obj,$(WORKER_SRC)) $(LIBSANDBOX) $(LIBQUEUE) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(WORKER_LIBS) -lpthread -lm

# Where the worker looks for sandq-archiver when it is not beside it. The
# header changes (and the worker is rebuilt) only when LIBEXECDIR does, so
# that "make PREFIX=/opt/sandq install" after "make" is right.
$(BUILD)/gen/paths.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define SANDQ_LIBEXECDIR "$(LIBEXECDIR)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/worker/archiver_client.o $(BUILD)/sandbox/helpers.o $(BUILD)/cli/sandbox/helpers.o: \
  $(BUILD)/gen/paths.h
$(BUILD)/worker/archiver_client.o $(BUILD)/sandbox/helpers.o: CFLAGS += -I$(BUILD)/gen

# On a cgroup v2 host run by systemd, a sandbox process without a
# delegated cgroup asks systemd for a scope through this helper
# (sandbox/scope.c): libsystemd is a glibc library, the CLI is musl.
$(BUILD)/sandq-scope: $(call obj,sandbox/scope.c)
	$(CC) $(LDFLAGS) -o $@ $^ $(SYSTEMD_LIBS)

# A job's link out and its filter (sandbox/net.c): libnftables and libmnl
# are glibc libraries, the CLI is musl; only jobs with a network pay for
# its exec.
$(BUILD)/sandq-net: $(call obj,sandbox/net.c)
	$(CC) $(LDFLAGS) -o $@ $^ $(NET_LIBS)

# The worker's archive helper: libarchive and the dependency-free common
# code, nothing of the queue or the sandbox.
$(BUILD)/sandq-archiver: $(call obj,worker/archiver.c worker/archiver_pack.c common/archive.c common/unpack.c) \
                         $(BUILD)/sandbox/seccomp_load.o $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(ARCHIVE_LIBS)

# The submit CLI never links the sandbox.
$(BUILD)/sandq: $(call obj,$(SUBMIT_SRC)) $(LIBQUEUE) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(QUEUE_LIBS) $(NETTLE_LIBS) -lm

$(BUILD)/musl-include/.stamp:
	@command -v $(MUSL_CC) >/dev/null || { echo "$(MUSL_CC) not found: run scripts/install-deps (Debian: musl-tools)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	ln -sfn /usr/include/linux $(dir $@)linux
	ln -sfn /usr/include/asm-generic $(dir $@)asm-generic
	ln -sfn /usr/include/$(MULTIARCH)/asm $(dir $@)asm
	@touch $@

$(BUILD)/init/%.o: %.c $(BUILD)/musl-include/.stamp
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(INIT_CFLAGS) -c $< -o $@

$(BUILD)/init/sandbox/seccomp_load.o: $(BUILD)/gen/seccomp_filter.h

$(BUILD)/sandq-init: $(patsubst %.c,$(BUILD)/init/%.o,$(INIT_SRC))
	$(MUSL_CC) -static -s -Wl,-z,relro -Wl,-z,now -Wl,--gc-sections -o $@ $^

$(BUILD)/sandbox/init_image.o: sandbox/init_image.S $(BUILD)/sandq-init
	@mkdir -p $(dir $@)
	$(CC) -c -DSANDQ_INIT_IMAGE='"$(BUILD)/sandq-init"' $< -o $@

$(LIBSANDBOX): $(call obj,$(SANDBOX_SRC)) $(BUILD)/sandbox/init_image.o
	@rm -f $@
	ar rcs $@ $^

# The sandbox CLI is built from the sandbox and common sources only, which
# proves the sandbox needs no queue code. Outside sanitizer builds it is
# linked statically with musl, as a PIE: its start-up is on the critical
# path of every run (the network namespace is made only after it), and
# glibc's static start-up probes the CPU's caches with some sixty cpuid
# instructions, each a trap to the hypervisor on a VM (fork to reap of an
# empty main: 0.30 ms with glibc, 0.11 ms with musl). The price: musl has
# no _FORTIFY_SOURCE, and no jansson in Debian (the CLI writes its one
# JSON object itself, with sq_json_put_str). The worker, which runs the
# jobs in production, keeps glibc and _FORTIFY_SOURCE; the sanitizer build
# links the CLI with glibc, so ASan and UBSan cover the same code.
# Debian's musl-gcc has no -static-pie spec: the link line is spelled out.
MUSL_LIBDIR ?= /usr/lib/$(patsubst %-gnu,%-musl,$(MULTIARCH))
CLI_SRC := sandbox/main.c $(SANDBOX_SRC) $(COMMON_SRC)
CLI_CFLAGS := -O2 -g -std=gnu11 $(WARN) -fstack-protector-strong -fPIE -MMD -MP \
              -DSANDQ_VERSION='"$(VERSION)"' -I$(BUILD)/gen -isystem $(BUILD)/musl-include

$(BUILD)/cli/%.o: %.c $(BUILD)/musl-include/.stamp
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(CLI_CFLAGS) -c $< -o $@

$(BUILD)/cli/sandbox/seccomp_load.o: $(BUILD)/gen/seccomp_filter.h

ifeq ($(SANITIZE),1)
$(BUILD)/sandq-sandbox: $(call obj,sandbox/main.c) $(LIBSANDBOX) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ -lm
else
$(BUILD)/sandq-sandbox: $(patsubst %.c,$(BUILD)/cli/%.o,$(CLI_SRC)) $(BUILD)/sandbox/init_image.o
	$(CC) -nostdlib -nostartfiles -static-pie -Wl,--no-dynamic-linker -Wl,-z,relro \
	  -Wl,-z,now -Wl,--gc-sections -o $@ $(MUSL_LIBDIR)/rcrt1.o $(MUSL_LIBDIR)/crti.o \
	  $$($(CC) -print-file-name=crtbeginS.o) $^ -L$(MUSL_LIBDIR) -lc \
	  $$($(CC) -print-libgcc-file-name) $$($(CC) -print-file-name=crtendS.o) $(MUSL_LIBDIR)/crtn.o
endif

# Test helpers: trusted test code the integration tests run.
$(BUILD)/tests/deny-syscall: tests/helpers/deny_syscall.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SECCOMP_LIBS)

$(BUILD)/tests/big-command: $(call obj,tests/helpers/big_command.c) $(LIBSANDBOX) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/wake-claim: $(call obj,tests/helpers/wake_claim.c) $(LIBQUEUE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(QUEUE_LIBS)

# The queue side's unit tests link the queue library, never the sandbox.
$(BUILD)/tests/test_queue: tests/unit/test_queue.c $(LIBQUEUE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBQUEUE) $(LIBCOMMON) $(QUEUE_LIBS) -lcmocka -lm

$(BUILD)/tests/test_%: tests/unit/test_%.c $(call obj,sandbox/seccomp.c) $(LIBSANDBOX) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call obj,sandbox/seccomp.c) $(LIBSANDBOX) $(LIBCOMMON) $(SECCOMP_LIBS) -lcmocka -lm

$(BUILD)/bench/sandbox-latency: $(call obj,bench/sandbox_latency.c) $(LIBSANDBOX) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# Fuzz targets: replayed over fuzz/corpus by make check with the normal
# toolchain; fuzzed for real with clang's libFuzzer by make fuzz.
$(BUILD)/tests/fuzz-replay-%: $(call obj,fuzz/replay.c fuzz/fuzz_%.c) $(LIBQUEUE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(QUEUE_LIBS) -lm

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -Ibuild/gen
fuzz:
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o build/fuzz/spec fuzz/fuzz_spec.c common/spec.c common/err.c \
	  common/util.c -ljansson -lm
	clang $(FUZZ_CFLAGS) -o build/fuzz/unpack fuzz/fuzz_unpack.c common/archive.c common/unpack.c \
	  common/tree.c common/err.c common/util.c -larchive -lm
	mkdir -p build/fuzz/spec-corpus build/fuzz/unpack-corpus
	build/fuzz/spec -max_total_time=$(FUZZ_SECONDS) build/fuzz/spec-corpus fuzz/corpus/spec
	build/fuzz/unpack -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/unpack-corpus fuzz/corpus/unpack

$(BUILD)/bench/queue-bench: $(call obj,bench/queue_bench.c bench/far_redis.c) $(LIBQUEUE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(QUEUE_LIBS) -lpthread -lm

# The peer of queue-bench, BullMQ + bubblewrap, from the npm registry at
# the versions bench/peer/package-lock.json pins. Without it queue-bench
# prints sandq's figures alone and says why.
PEER := $(BUILD)/bench/peer
$(PEER)/node_modules/.package-lock.json: bench/peer/package.json bench/peer/package-lock.json
	@mkdir -p $(PEER)
	cp bench/peer/package.json bench/peer/package-lock.json $(PEER)/
	cd $(PEER) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

bench: all
	scripts/install-deps --bench || echo "bench: no Node.js; the peer's figures will be missing"
	$(MAKE) $(PEER)/node_modules/.package-lock.json || echo "bench: the peer did not install"
	mkdir -p $(PEER) && cp bench/peer/bullmq-bwrap.js $(PEER)/
	$(BUILD)/bench/sandbox-latency
	$(BUILD)/bench/queue-bench

# On a fresh machine the test command installs what it needs first.
check:
	scripts/install-deps
	$(MAKE) all
	BUILD=$(BUILD) tests/run

# sandq on cgroup v2 under a real systemd, in a qemu guest (tests/v2/run).
check-v2:
	BUILD=$(BUILD) tests/v2/run

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

deps:
	scripts/install-deps

demo:
	scripts/demo

DOCDIR ?= $(PREFIX)/share/doc/sandq

install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/sandq/nightly
	install -m 0755 $(BINS) systemd/sandq-nightly $(DESTDIR)$(BINDIR)/
	install -m 0755 $(LIBEXEC_BINS) $(DESTDIR)$(LIBEXECDIR)/
	for u in sandq-worker.service sandq-nightly@.service; do \
	  sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/sandq/|$(DOCDIR)/|g' \
	    systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 systemd/sandq-nightly@.timer $(DESTDIR)$(UNITDIR)/
	install -m 0644 systemd/sandq.conf.example systemd/nightly.conf.example \
	  $(DESTDIR)$(SYSCONFDIR)/sandq/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	for m in $(MANPAGES); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
	  install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 completion/sandq.bash $(DESTDIR)$(BASHCOMPDIR)/sandq
	@echo "installed; see $(DOCDIR)/operations.md to configure and start sandq-worker"

# The Debian package (debian/), built by dpkg-buildpackage from a copy of
# the tree in $(BUILD)/deb/src, so that it writes nothing beside the
# checkout: the .deb lands in $(BUILD)/deb/. Needs debhelper and dpkg-dev
# (scripts/install-deps --deb).
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	tar --exclude='./build*' --exclude=./.git -cf - . | tar -C $(BUILD)/deb/src -xf -
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b --no-sign
	@ls $(BUILD)/deb/*.deb

# Removes what install put in place, but the configuration in
# $(SYSCONFDIR)/sandq (yours now) and anything the worker wrote.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)) sandq-nightly)
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(LIBEXEC_BINS)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,sandq-worker.service sandq-nightly@.service \
	  sandq-nightly@.timer)
	rm -f $(DESTDIR)$(DOCDIR)/README.md $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(wildcard docs/*.md)))
	for m in $(notdir $(MANPAGES)); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done
	rm -f $(DESTDIR)$(BASHCOMPDIR)/sandq
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "uninstalled; $(SYSCONFDIR)/sandq is left as it is"

clean:
	rm -rf build build-san build-fmt build-deb

.PHONY: all programs bench demo check check-v2 fuzz format-check deps install uninstall deb clean FORCE

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
