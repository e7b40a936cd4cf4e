"""`manage.py process_feedback [PATH]`: apply the DSN bounces, ARF complaints and mailto:
unsubscribes in a mailbox, as the read_feedback_mailbox task does on a schedule."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from complaints.mailboxes import DUPLICATE, MailboxError, mailbox_process
from complaints.models import FeedbackOutcome

_DRY_RUN_LABELS = {
    FeedbackOutcome.APPLIED: "would apply",
    FeedbackOutcome.UNMATCHED: "would record as unmatched",
    FeedbackOutcome.TEST: "would record as a test message's",
    DUPLICATE: "already applied",
}


class Command(BaseCommand):
    help = (
        "Apply the bounces (DSN and plain-text), feedback-loop complaints (ARF, JMRP) and "
        "mailto: unsubscribes in a mailbox: an mbox file, a Maildir directory or "
        "imaps://user:password@host[:port]/FOLDER (default: FEEDBACK_MAILBOX). Maildir "
        "messages move to cur/ marked seen, IMAP ones are marked \\Seen, an mbox is left as "
        "it is; reading a mailbox again applies nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="mbox file, Maildir directory or IMAP URL")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Parse and print what would be applied; apply and mark nothing.",
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="Read at most this many messages."
        )

    def handle(self, *args, path=None, dry_run=False, limit=None, verbosity=1, **options):
        location = path or settings.FEEDBACK_MAILBOX
        if not location:
            raise CommandError("Give a mailbox PATH (or set FEEDBACK_MAILBOX).")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            run = mailbox_process(location=location, dry_run=dry_run, limit=limit)
        except MailboxError as exc:
            raise CommandError(str(exc)) from exc
        if dry_run or verbosity > 1:
            labels = _DRY_RUN_LABELS if dry_run else {}
            for outcome, description in run.lines:
                self.stdout.write(f"{labels.get(outcome, outcome)}: {description}")
        if dry_run:
            self.stdout.write("Dry run: nothing was applied and no message was marked read.")
        self.stdout.write(f"Read {run.read} message(s) from {run.mailbox} {run.location}.")
        applied = "would apply" if dry_run else "applied"
        for label, value in (
            (applied, run.applied),
            ("duplicates", run.duplicates),
            ("unmatched", run.unmatched),
            ("test", run.test),
            ("ignored", run.ignored),
            ("unparsed", run.unparsed),
        ):
            self.stdout.write(f"  {label}: {value}")
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(run.by_kind.items()))
        self.stdout.write(f"  by kind: {kinds or 'none'}")
