"""Re-encrypt every recipient address under the newest key in PII_ENCRYPTION_KEYS.

Rotation: prepend a new Fernet key to PII_ENCRYPTION_KEYS (keep the old ones after it), deploy,
run this command, then drop the old key once it reports done. Workers do the batches; this
command starts a job and shows its progress (or, with --no-wait, only starts it).
"""

import time

from django.core.management.base import BaseCommand

from privacy.services import pii_rotation_start


class Command(BaseCommand):
    help = "Re-encrypt personal data under the newest key, in batches run by Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--no-wait", action="store_true", help="start the job and return")
        parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the workers")

    def handle(self, *args, no_wait=False, timeout=3600, **options):
        job = pii_rotation_start()
        self.stdout.write(f"rotation job #{job.pk}: {job.total} rows")
        if no_wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            self.stdout.write(f"  {job.done}/{job.total} rows re-encrypted ({job.table})")
            if job.finished_at:
                self.stdout.write(self.style.SUCCESS("done: every row is under the newest key"))
                return
            time.sleep(2)
        self.stderr.write("timed out waiting for the workers; the job goes on in the background")
