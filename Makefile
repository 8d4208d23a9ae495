GO ?= go
BIN := bin/hoist

.PHONY: build test lint unit fuzz demo bench deps clean install

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

demo: deps build
	./scripts/demo.sh

bench: deps build
	./bench/run.sh

# The binary, and the Engine API's systemd socket and service (socket-
# activated: `hoist serve` starts on the first connection to
# /run/hoist.sock; enable with `systemctl enable --now hoist.socket`).
PREFIX ?= /usr/local
SYSTEMD_DIR ?= /etc/systemd/system
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/hoist
	grp=$$(getent group docker >/dev/null && echo docker || echo hoist); \
	if [ $$grp = hoist ] && [ -z "$(DESTDIR)" ]; then groupadd -f -r hoist; fi; \
	mkdir -p $(DESTDIR)$(SYSTEMD_DIR); \
	sed "s|^SocketGroup=.*|SocketGroup=$$grp|" scripts/systemd/hoist.socket >$(DESTDIR)$(SYSTEMD_DIR)/hoist.socket
	sed 's|/usr/local/bin/hoist|$(PREFIX)/bin/hoist|' scripts/systemd/hoist.service >$(DESTDIR)$(SYSTEMD_DIR)/hoist.service.tmp
	install -D -m 0644 $(DESTDIR)$(SYSTEMD_DIR)/hoist.service.tmp $(DESTDIR)$(SYSTEMD_DIR)/hoist.service
	rm -f $(DESTDIR)$(SYSTEMD_DIR)/hoist.service.tmp
	if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf bin
