# Giftshop: `make run` serves the demo, `make test` runs every check. Nothing else needs installing by hand.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/giftshop

.PHONY: run test lint check-migrations worker beat bench browser-deps messages clean drill-cluster cluster-deps

$(VENV)/.stamp-run: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-run requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.stamp-run
	$(PY) manage.py migrate --noinput -v0
	SITE_URL=http://127.0.0.1:$(PORT) $(PY) manage.py load_demo
	@echo ""
	@echo "  Giftshop is running on the embedded default (SQLite, Celery eager, sandbox payment and courier)."
	@echo "  Shop:            http://127.0.0.1:$(PORT)/"
	@echo "  Merchant admin:  http://127.0.0.1:$(PORT)/merchant/   (merchant / giftshop-demo, merchant2 / giftshop-demo)"
	@echo "  Operator admin:  http://127.0.0.1:$(PORT)/admin/      (admin / giftshop-demo)"
	@echo "  API docs:        http://127.0.0.1:$(PORT)/api/v1/docs/"
	@echo "  Sign in with a phone number: the SMS code is printed below (console SMS). Demo phones:"
	@echo "  alice 13800000001 (sender), bob 13800000002, carol 13800000003; or 用密码登录, password giftshop-demo"
	@echo ""
	@echo "  The schedule runs too (celery beat, eager, no Redis): expiry and refunds, unpaid orders, draws,"
	@echo "  reminders, after-sales deadlines, stats, retention, outbox retries. Its log: var/beat.log"
	@echo ""
	@mkdir -p var
	@SITE_URL=http://127.0.0.1:$(PORT) $(VENV)/bin/celery -A giftshop beat -l info -s var/beat-schedule >var/beat.log 2>&1 & \
	  BEAT=$$!; trap 'kill $$BEAT 2>/dev/null' EXIT INT TERM; \
	  SITE_URL=http://127.0.0.1:$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

browser-deps:
	@(test -x /usr/bin/chromium && fc-list :lang=zh | grep -q .) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null)

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

check-migrations: $(VENV)/.stamp-dev
	DJANGO_SETTINGS_MODULE=giftshop.settings.test DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres $(PY) manage.py makemigrations --check --dry-run

test: $(VENV)/.stamp-dev browser-deps lint check-migrations
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest $(PYTEST_ARGS)

worker: $(VENV)/.stamp-run
	$(VENV)/bin/celery -A giftshop worker -l info

beat: $(VENV)/.stamp-run
	$(VENV)/bin/celery -A giftshop beat -l info

bench: $(VENV)/.stamp-dev
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	@command -v pgbench >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null)
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/run.py $(BENCH_ARGS)
	@# The cluster drill (4-5 minutes, root, network namespaces): here rather than in CI's `make test`.
	$(MAKE) drill-cluster

# The cluster drill (bench/cluster_drill.py): lb, two web hosts, two workers, PostgreSQL primary and
# streaming replica, RabbitMQ and Redis, each in a network namespace it makes and deletes; real
# journeys through the lb while it stops web1, kills worker1, stops the replica and cuts the broker
# off. Needs root. RUNLEVEL=1 keeps Debian's packages from starting their own daemons on install.
cluster-deps:
	@command -v haproxy >/dev/null || (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null)
	@command -v rabbitmq-server >/dev/null || (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null)
	@command -v redis-server >/dev/null || (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)
	@ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || (apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)
	@command -v ip >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null)

drill-cluster: $(VENV)/.stamp-dev cluster-deps
	$(PY) bench/cluster_drill.py $(DRILL_ARGS)

# Refresh the English catalogue after changing user-facing text, fill in the new msgstr lines in
# locale/en/LC_MESSAGES/django.po, then run this again to compile. Both files are committed, so
# running the site or the tests never needs gettext.
messages: $(VENV)/.stamp-run
	@command -v msgfmt >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null)
	$(PY) manage.py makemessages -l en --no-obsolete --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles
	$(PY) manage.py compilemessages -l en --ignore=.venv
	# locale/zh_Hans holds only the Chinese names of models and fields (their msgids are English).
	msgfmt --check -o locale/zh_Hans/LC_MESSAGES/django.mo locale/zh_Hans/LC_MESSAGES/django.po

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
