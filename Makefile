GO ?= go
BIN := bin/hoist

.PHONY: build test lint unit fuzz demo bench deps clean install

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSTEMDUNITDIR ?= /etc/systemd/system

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BIN) ./cmd/hoist

# Installs what the tests need (Debian packages), then runs every test.
# Integration tests need root, overlayfs and runc; they skip with a reason
# when a facility is truly missing.
test: deps build lint
	HOIST_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m ./...
	$(MAKE) fuzz

# Each fuzz target for a bounded budget (scripts/fuzz.sh; FUZZTIME overrides).
fuzz:
	GO=$(GO) ./scripts/fuzz.sh

# staticcheck, pinned (its checks: staticcheck.conf). `go run` builds it
# once into the build cache.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Formatting, vet and staticcheck: a file gofmt would change, or a finding
# of either, fails the run.
lint:
	@unformatted=$$(gofmt -l cmd internal bench 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Unit tests only (no root, no peers).
unit:
	$(GO) test -short ./...

deps:
	./scripts/install-deps.sh

# The demo needs hoist's run-time dependencies only (no peers).
demo: build
	./scripts/install-deps.sh --runtime
	./scripts/demo.sh

bench: deps build
	./bench/run.sh

# The binary; the systemd unit that runs `hoist system restore` at boot
# (enabled when systemd runs this machine and DESTDIR is unset); and the
# Engine API's socket and service (socket-activated: `hoist serve` starts
# on the first connection to /run/hoist.sock; enable with `systemctl
# enable --now hoist.socket`).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/hoist
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/hoist-restore.service > $(DESTDIR)$(SYSTEMDUNITDIR)/hoist-restore.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hoist-restore.service
	grp=$$(getent group docker >/dev/null && echo docker || echo hoist); \
	if [ $$grp = hoist ] && [ -z "$(DESTDIR)" ]; then groupadd -f -r hoist; fi; \
	sed "s|^SocketGroup=.*|SocketGroup=$$grp|" scripts/systemd/hoist.socket >$(DESTDIR)$(SYSTEMDUNITDIR)/hoist.socket
	sed 's|/usr/local/bin/hoist|$(BINDIR)/hoist|' scripts/systemd/hoist.service >$(DESTDIR)$(SYSTEMDUNITDIR)/hoist.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hoist.socket $(DESTDIR)$(SYSTEMDUNITDIR)/hoist.service
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload && systemctl enable hoist-restore.service; fi

clean:
	rm -rf bin
