"""Production settings pass Django's deployment checklist, and refuse to start without secrets."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "PII_", "SECRET_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "DJANGO_SETTINGS_MODULE": "giftshop.settings.production", **env},
    )


PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-9f8e7d6c5b4a",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "ALLOWED_HOSTS": "gifts.example.com",
    "CACHE_URL": "redis://127.0.0.1:6379/13",  # never contacted by these checks
}
# A staging site may run the sandbox, with secrets of its own.
STAGING = {"ALLOW_SANDBOX": "True", "SANDBOX_PAYMENT_SECRET": "s" * 32, "SANDBOX_CARRIER_SECRET": "c" * 32}


def _production(*args: str, **env: str) -> subprocess.CompletedProcess:
    return _manage(*args, **{**PRODUCTION, "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **env})


def test_check_deploy_reports_nothing_on_a_staging_site_with_its_own_sandbox_secrets():
    result = _production("check", "--deploy", "--fail-level", "WARNING", **STAGING)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_sandbox_unless_staging_is_declared():
    result = _production("check", "--deploy")
    assert result.returncode != 0
    assert "giftshop.E001" in result.stderr and "PAYMENT_PROVIDER" in result.stderr


def test_a_staging_site_refuses_the_public_default_sandbox_secrets():
    result = _production("check", "--deploy", ALLOW_SANDBOX="True", SANDBOX_CARRIER_SECRET="c" * 32)
    assert result.returncode != 0
    assert "giftshop.E002" in result.stderr and "SANDBOX_PAYMENT_SECRET" in result.stderr
    assert "SANDBOX_CARRIER_SECRET is" not in result.stderr


def test_gunicorn_and_celery_refuse_to_start_on_the_sandbox_in_production():
    env = {**os.environ, **PRODUCTION, "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    env["DJANGO_SETTINGS_MODULE"] = "giftshop.settings.production"
    web = subprocess.run(
        [sys.executable, "-c", "import giftshop.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert web.returncode != 0 and "giftshop.E001" in web.stderr
    staging = subprocess.run(
        [sys.executable, "-c", "import giftshop.wsgi"],
        cwd=ROOT,
        env={**env, **STAGING},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert staging.returncode == 0, staging.stderr
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "giftshop", "worker", "--pool", "solo", "-Q", "none"],
        cwd=ROOT,
        env={**env, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode != 0 and "giftshop.E001" in worker.stdout + worker.stderr


def test_production_refuses_to_start_without_a_shared_cache():
    result = _production("check", "--deploy", CACHE_URL="locmemcache://", **STAGING)
    assert result.returncode != 0 and "giftshop.E004" in result.stderr and "CACHE_URL" in result.stderr
    env = {**os.environ, **PRODUCTION, **STAGING, "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    env.pop("CACHE_URL")
    env["DJANGO_SETTINGS_MODULE"] = "giftshop.settings.production"
    web = subprocess.run(
        [sys.executable, "-c", "import giftshop.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert web.returncode != 0 and "giftshop.E004" in web.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage(
        "check",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        PII_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_demo_accounts_are_not_in_production_settings_or_migrations():
    for path in [*ROOT.glob("giftshop/settings/*.py"), *ROOT.glob("*/migrations/*.py")]:
        text = path.read_text()
        assert "giftshop-demo" not in text, path


def test_check_deploy_passes_with_wechat_pay_taking_the_money(tmp_path):
    from tests.payments.wechatpay_double import new_key, private_pem, public_pem

    wechatpay = {
        "PAYMENT_PROVIDER": "wechatpay",
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APPID": "wxd678efh567hg6787",
        "WECHATPAY_APIV3_KEY": "k" * 32,
        "WECHATPAY_PRIVATE_KEY": private_pem(new_key()),
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A72",
        "WECHATPAY_PUBLIC_KEY": public_pem(new_key()),
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000",
    }
    # The courier is still the sandbox (a real carrier is the logistics issue): a staging declaration.
    result = _production("check", "--deploy", "--fail-level", "WARNING", **wechatpay, **STAGING)
    assert result.returncode == 0, result.stdout + result.stderr
    refused = _production("check", "--deploy", **wechatpay)
    assert refused.returncode != 0 and "CARRIER_PROVIDER" in refused.stderr and "PAYMENT_PROVIDER" not in refused.stderr


def test_a_gateway_key_that_does_not_load_stops_the_deploy_check():
    broken = {
        "PAYMENT_PROVIDER": "wechatpay",
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APPID": "wxd678efh567hg6787",
        "WECHATPAY_APIV3_KEY": "too-short",
        "WECHATPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A72",
    }
    result = _production("check", "--deploy", **broken, **STAGING)
    assert result.returncode != 0 and "giftshop.E003" in result.stderr
    assert "WECHATPAY_PRIVATE_KEY" in result.stderr and "WECHATPAY_APIV3_KEY" in result.stderr


def test_check_deploy_passes_with_real_providers_and_no_sandbox():
    from tests.payments.wechatpay_double import new_key, private_pem, public_pem

    real = {
        "PAYMENT_PROVIDER": "wechatpay",
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APPID": "wxd678efh567hg6787",
        "WECHATPAY_APIV3_KEY": "k" * 32,
        "WECHATPAY_PRIVATE_KEY": private_pem(new_key()),
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A72",
        "WECHATPAY_PUBLIC_KEY": public_pem(new_key()),
        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000",
        "CARRIER_PROVIDER": "kuaidi100",
        "KUAIDI100_KEY": "kuaidi100-key",
        "KUAIDI100_SECRET": "kuaidi100-secret",
        "KUAIDI100_PUSH_SALT": "a-salt-of-our-own-32-characters!",
        "KUAIDI100_PARTNER_ID": "partner-1",
        "KUAIDI100_TEMPLATE_ID": "template-1",
        "SITE_URL": "https://gifts.example.com",  # where Kuaidi100 pushes tracking: https only
        **REAL_SMS,
    }
    result = _production("check", "--deploy", "--fail-level", "WARNING", **real)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    console = _production("check", "--deploy", **{**real, "SMS_PROVIDER": "console"})
    assert console.returncode != 0 and "giftshop.E001" in console.stderr and "SMS_PROVIDER" in console.stderr
    assert "PAYMENT_PROVIDER" not in console.stderr


REAL_SMS = {
    "SMS_PROVIDER": "tencent",
    "SMS_SIGN_NAME": "礼物小店",
    "SMS_TENCENT_SECRET_ID": "AKID" + "0" * 32,
    "SMS_TENCENT_SECRET_KEY": "s" * 32,
    "SMS_TENCENT_SDK_APP_ID": "1400000001",
    "SMS_TENCENT_TEMPLATES": "login_code=1000001,gift_link=1000002,gift_reminder=1000003,gift_code=1000004",
}


def test_an_sms_provider_without_its_keys_or_a_template_id_stops_the_deploy_check():
    partial = {**REAL_SMS, "SMS_TENCENT_SECRET_KEY": "", "SMS_TENCENT_TEMPLATES": "login_code=1000001"}
    result = _production("check", "--deploy", **partial, **STAGING)
    assert result.returncode != 0 and "giftshop.E003" in result.stderr
    assert "SMS_TENCENT_SECRET_KEY" in result.stderr and "gift_link" in result.stderr
    assert "login_code" not in result.stderr.split("no template id for")[1].split("\n")[0]
    aliyun = _production("check", "--deploy", SMS_PROVIDER="aliyun", **STAGING)
    assert aliyun.returncode != 0 and "SMS_ALIYUN_ACCESS_KEY_ID" in aliyun.stderr
    unknown = _production("check", "--deploy", SMS_PROVIDER="carrier-pigeon", **STAGING)
    assert unknown.returncode != 0 and "carrier-pigeon" in unknown.stderr


def test_gunicorn_s_config_keeps_the_site_s_time_zone():
    """gunicorn.conf.py stamps the master's lines in the site's zone without loading the settings."""
    import runpy

    from django.conf import settings

    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["TIME_ZONE"] == settings.TIME_ZONE


def test_gunicorn_s_master_loads_no_settings_so_an_env_option_reaches_the_workers(tmp_path):
    """An `--env` value reaches the master's own lines and the workers' settings alike: the master
    loaded nothing of the settings that the workers would inherit (a reload would not reach them either)."""
    import time

    import requests

    from tests.servers import free_port, wait_for

    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = "giftshop.settings.local"  # plain lines unless told otherwise
    with open(log_path, "wb") as log:
        server = subprocess.Popen(  # noqa: S603
            [str(Path(sys.executable).parent / "gunicorn"), "giftshop.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
            + ["-e", "LOG_FORMAT=json"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def answers() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, what="gunicorn to answer /healthz", timeout=60)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    import json

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert {"gunicorn.error", "giftshop.request"} <= {line["logger"] for line in lines}, log_path.read_text()[:2000]
    assert not [line for line in log_path.read_text().splitlines() if line.startswith(("[", "20"))]  # no text lines
