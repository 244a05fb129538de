# wa-broker: build, run and test. `make run` and `make test` are the two commands that matter.
SHELL := /bin/bash
.DEFAULT_GOAL := build

CC      ?= cc
PKGS    := rdkafka libmicrohttpd libpq jansson libcurl openssl
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Icommon \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

B := build
COMMON_SRC := $(wildcard common/*.c)
SERVICES   := ingress router sender-twilio sender-baileys media-worker dashboard
# The router's routing decision (pure): in libwa too, so the dashboard's reply preview asks the
# same code the router routes with (one home per decision). Its headers stay in router/.
SHARED_SRC := router/rules.c router/plan.c
SHARED_INC := -Irouter

# Each service is its folder's .c files (but those libwa holds) plus libwa.
define service_rules
$(B)/bin/$(1): $$(wildcard $(1)/*.c $(1)/*.h) $(B)/libwa.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) -I$(1) $(SHARED_INC) -o $$@ $$(filter-out $(SHARED_SRC),$$(wildcard $(1)/*.c)) \
	  $(B)/libwa.a $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

$(B)/obj/%.o: common/%.c $(wildcard common/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
$(B)/obj/router/%.o: router/%.c router/plan.h router/rules.h $(wildcard common/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SHARED_INC) -c -o $@ $<
$(B)/libwa.a: $(patsubst common/%.c,$(B)/obj/%.o,$(COMMON_SRC)) \
              $(patsubst router/%.c,$(B)/obj/router/%.o,$(SHARED_SRC))
	ar rcs $@ $^

.PHONY: build
build: $(addprefix $(B)/bin/,$(SERVICES))

# ---- unit tests (cmocka) under ASan+UBSan -----------------------------------------
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/san/%,$(UNIT_SRC))
# Service code that unit tests exercise: the pure files, no main.c.
PURE_SRC   := ingress/twilio_normalize.c ingress/baileys_normalize.c ingress/parked_normalize.c \
              ingress/prefer.c \
              router/rules.c router/plan.c router/health_merge.c router/consent.c \
              sender-twilio/request.c sender-twilio/ratelimit.c sender-twilio/health_rule.c \
              sender-twilio/content.c sender-baileys/bridge.c sender-baileys/channels.c \
              media-worker/policy.c dashboard/params.c dashboard/throttle.c dashboard/reply.c
PURE_INC   := -Iingress -Irouter -Isender-twilio -Isender-baileys -Imedia-worker -Idashboard
SAN_HEADERS := $(wildcard common/*.h ingress/*.h router/*.h sender-*/*.h media-worker/*.h dashboard/*.h)
# The code under test is compiled once, with the sanitizers, into one archive every test links.
SAN_OBJS   := $(patsubst %.c,$(B)/sanobj/%.o,$(COMMON_SRC) $(PURE_SRC))
$(B)/sanobj/%.o: %.c $(SAN_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 $(PURE_INC) -c -o $@ $<
$(B)/san/libwa-san.a: $(SAN_OBJS)
	@mkdir -p $(@D)
	ar rcs $@ $^
$(B)/san/%: tests/unit/%.c $(B)/san/libwa-san.a $(SAN_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 $(PURE_INC) -o $@ $< $(B)/san/libwa-san.a $(LDLIBS) -lcmocka

.PHONY: unit
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# ---- fuzz harnesses (libFuzzer); `make fuzz-replay` runs their corpora ----------------
# Each harness replays tests/fuzz/corpus/<name>, then runs FUZZ_SECONDS of new inputs. A crash, a
# sanitizer report (UBSan aborts too), one input taking over FUZZ_TIMEOUT seconds, a leak or
# running out of memory fails the target: the end of build/fuzz/<name>.log is shown, and the
# input that did it is kept under build/fuzz/<name>.artifacts/.
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 20
FUZZ_TIMEOUT ?= 10
FUZZ_BASE    := -std=c11 -D_GNU_SOURCE -g -O1 -Icommon $(PURE_INC) -fno-omit-frame-pointer \
                -fno-sanitize-recover=all $(shell pkg-config --cflags $(PKGS))
# The code under test is compiled once, instrumented, into one archive every harness links.
FUZZ_OBJS    := $(patsubst %.c,$(B)/fuzzobj/%.o,$(COMMON_SRC) $(PURE_SRC))
HEADERS      := $(wildcard common/*.h ingress/*.h router/*.h sender-*/*.h media-worker/*.h \
                  dashboard/*.h)
$(B)/fuzzobj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	clang $(FUZZ_BASE) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
$(B)/fuzz/libwa-fuzz.a: $(FUZZ_OBJS)
	@mkdir -p $(@D)
	ar rcs $@ $^
$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/libwa-fuzz.a $(HEADERS)
	@mkdir -p $(@D)
	clang $(FUZZ_BASE) -fsanitize=fuzzer,address,undefined -o $@ $< $(B)/fuzz/libwa-fuzz.a $(LDLIBS)
# These two include the service file that holds their decoder (a static function).
$(B)/fuzz/fuzz_media: media-worker/job.c
$(B)/fuzz/fuzz_provider_health: router/health.c

.PHONY: fuzz-replay
fuzz-replay: $(FUZZ_BINS)
	@failed=; for f in $(FUZZ_BINS); do n=$$(basename $$f); log=$(B)/fuzz/$$n.log; \
	  echo "== $$n: corpus replay + $(FUZZ_SECONDS)s of new inputs"; \
	  mkdir -p $(B)/fuzz/$$n.new $(B)/fuzz/$$n.artifacts; \
	  if UBSAN_OPTIONS=print_stacktrace=1 $$f -max_total_time=$(FUZZ_SECONDS) \
	       -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 -max_len=8192 \
	       -artifact_prefix=$(B)/fuzz/$$n.artifacts/ $(B)/fuzz/$$n.new tests/fuzz/corpus/$$n \
	       >$$log 2>&1; then tail -n 2 $$log; \
	  else echo "!! $$n FAILED (exit $$?); the end of $$log:"; tail -n 60 $$log; \
	    sed -n 's/.*Test unit written to \(.*\)/!! failing input: \1/p' $$log; \
	    failed="$$failed $$n"; fi; done; \
	 if [ -n "$$failed" ]; then echo "fuzz-replay: FAILED:$$failed"; exit 1; fi; \
	 echo "fuzz-replay: ok"

# ---- the bridge's own tests (node's test runner) -----------------------------------------
.PHONY: bridge-unit
bridge-unit:
	scripts/node-deps.sh
	cd baileys-bridge && npm test

# ---- the Twilio simulator's own tests (against Twilio's OpenAPI spec) --------------------
.PHONY: sim-unit
sim-unit:
	scripts/node-deps.sh
	cd sim/twilio && npm test

# ---- style ---------------------------------------------------------------------------
.PHONY: format format-check
format:
	clang-format -i $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')
format-check:
	@out=$$(clang-format --dry-run $$(git ls-files --cached --others --exclude-standard '*.c' '*.h') 2>&1); \
	 if [ -n "$$out" ]; then echo "$$out" | head -40; echo "format-check: run 'make format'"; exit 1; fi; \
	 echo "format-check: ok"

# ---- the stack -----------------------------------------------------------------------
.PHONY: install run stop status demo demo-baileys test e2e compose-check compose-test bench bench-outbound bench-sender bench-router bench-ingress bench-pacing bench-media bench-dashboard bench-kafka-restart clean
install:
	infra/stack.sh install

run: install build
	scripts/run.sh

stop:
	scripts/services.sh stop; infra/stack.sh down

status:
	infra/stack.sh status; scripts/services.sh status

demo:
	scripts/demo.sh twilio

demo-baileys:
	scripts/demo.sh baileys

# The variants: one Kafka broker, the three-broker profile with its env file, the simulated
# deployment (the trial), and the same on the host network that compose-test runs.
compose-check:
	@if command -v docker-compose >/dev/null; then \
	  export TWILIO_ACCOUNT_SID=x TWILIO_AUTH_TOKEN=x TWILIO_WA_FROM=x BAILEYS_WEBHOOK_SECRET=x DASHBOARD_TOKEN=x \
	    PUBLIC_BASE_URL=https://wa.example.com PROXY_TLS_DIR=/etc/letsencrypt; \
	  docker-compose -f docker-compose.yml config -q && \
	  docker-compose -f docker-compose.yml --env-file deploy/kafka-cluster.env config -q && \
	  docker-compose -f docker-compose.yml --env-file deploy/sim.env config -q && \
	  docker-compose -f docker-compose.yml -f deploy/compose.host.yml --env-file deploy/sim.env config -q && \
	  if out=$$(env -u PUBLIC_BASE_URL docker-compose -f docker-compose.yml config -q 2>&1); then \
	    echo "compose-check: the compose file takes no PUBLIC_BASE_URL (Twilio's signatures would all fail)"; exit 1; \
	  elif ! echo "$$out" | grep -q "PUBLIC_BASE_URL is required"; then \
	    echo "compose-check: without PUBLIC_BASE_URL, no clear error: $$out"; exit 1; \
	  fi && \
	  echo "compose-check: ok (one broker; kafka-cluster profile; sim; sim on the host network; refused without PUBLIC_BASE_URL)"; \
	else echo "compose-check: docker-compose missing (run make install)"; exit 1; fi

e2e: build
	scripts/e2e.sh

# docker-compose.yml for real: builds every image (from debian:bookworm-slim), runs the whole
# deployment with the Twilio simulator behind the TLS proxy on ports of its own (61000+), two
# routers and two Twilio senders, checks it end to end and removes it. Needs root; starts
# dockerd if none runs. The last step of `make test`.
compose-test: install
	scripts/compose-test.sh

test: install
	$(MAKE) format-check
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) bridge-unit
	$(MAKE) sim-unit
	$(MAKE) fuzz-replay
	$(MAKE) compose-check
	$(MAKE) e2e
	$(MAKE) compose-test

bench: install build
	bench/run.sh

bench-outbound: install build
	bench/outbound.sh

bench-sender: install build
	bench/sender.sh

bench-router: install build
	bench/router.sh

bench-ingress: install build
	bench/ingress.sh

bench-pacing: install build
	bench/pacing.sh

bench-media: install build
	bench/media.sh

bench-dashboard: install build
	bench/dashboard.sh

bench-kafka-restart: install build
	bench/kafka_restart.sh

clean:
	rm -rf $(B)
