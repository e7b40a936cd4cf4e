"""Texts the lists app stores for a later reader (config.coded_text): why an import skipped or
flagged a row (ImportRowIssue.reason), why an import failed (ImportJob.failure_reason), and the
file errors that can end an import part-way. Rendered in the reader's language on the import
page, in the API and in the errors CSV."""

from django.utils.translation import gettext_noop

from config.coded_text import define

# --- a row's reason -------------------------------------------------------------------------------

define("lists.import.no_email", gettext_noop("No e-mail address in this row."))
# `why` is the address checker's (email-validator's) own explanation, in English.
define("lists.import.invalid_address", gettext_noop("Invalid address: %(why)s"))
define("lists.import.duplicate_row", gettext_noop("Duplicate of row %(row)s."))
define("lists.import.repeated", gettext_noop("Duplicate of an earlier row of this file."))
define("lists.import.opted_out_later", gettext_noop("Opted out in the source on row %(row)s."))
define(
    "lists.import.age_not_confirmed",
    gettext_noop(
        "Age not confirmed: the list has adult content and the row's age_confirmed column does "
        "not say yes."
    ),
)
define(
    "lists.import.role_address",
    gettext_noop(
        "Role address (info@, sales@…): imported, but lists made mostly of them are flagged."
    ),
)
define("lists.import.left_list", gettext_noop("Unsubscribed from this list."))
define("lists.import.suppressed", gettext_noop("Suppressed: %(why)s"))
define("lists.suppressed.unsubscribed", gettext_noop("This address unsubscribed from your mail."))
define("lists.suppressed.hard_bounce", gettext_noop("This address bounced permanently."))
define("lists.suppressed.complained", gettext_noop("This address reported your mail as spam."))
define("lists.suppressed.erased", gettext_noop("This address asked to be erased."))
define(
    "lists.suppressed.platform_hard_bounce",
    gettext_noop(
        "This address does not exist: mail to it bounced permanently (known across the "
        "service, whoever sent it)."
    ),
)
define("lists.suppressed.other", gettext_noop("This address is suppressed."))

# The row's standing in the service the file was exported from (lists.export_layouts); `where`
# names the column and its value, or a coded `lists.source.where.*`.
define("lists.source.not_confirmed", gettext_noop("Not confirmed in the source: %(where)s."))
define("lists.source.not_subscribed", gettext_noop("Not subscribed in the source: %(where)s."))
define("lists.source.disabled", gettext_noop("Disabled in the source: %(where)s."))
define(
    "lists.source.unsubscribed",
    gettext_noop(
        "Unsubscribed in the source: %(where)s. Not subscribed; added to your suppressions."
    ),
)
define(
    "lists.source.hard_bounce",
    gettext_noop("Bounced in the source: %(where)s. Not subscribed; added to your suppressions."),
)
define(
    "lists.source.complained",
    gettext_noop(
        "Reported as spam in the source: %(where)s. Not subscribed; added to your suppressions."
    ),
)
define("lists.source.where.status", gettext_noop("status '%(value)s'"))
define("lists.source.where.source_status", gettext_noop("%(source)s status '%(value)s'"))
define(
    "lists.source.where.mailchimp_column",
    gettext_noop("Mailchimp status '%(status)s' (%(column)s %(value)s)"),
)
define(
    "lists.source.where.mailchimp_file",
    gettext_noop("Mailchimp status '%(status)s' (file %(file)s)"),
)

# --- why an import failed -------------------------------------------------------------------------

define(
    "lists.import.file_gone",
    gettext_noop(
        "The uploaded file is no longer available, so the import could not go on. Nothing was "
        "imported. Upload the file again to import the rest: rows already imported are not "
        "added twice."
    ),
)
define(
    "lists.import.file_gone_part",
    gettext_noop(
        "The uploaded file is no longer available, so the import could not go on. The first "
        "%(count)s rows were imported; the rest were not. Upload the file again to import the "
        "rest: rows already imported are not added twice."
    ),
)
define("lists.import.unexpected_error", gettext_noop("The import stopped on an unexpected error."))
define(
    "lists.import.never_finished",
    gettext_noop("The import never finished; its uploaded file was deleted after %(days)s days."),
)

# File errors (lists.parsers) that can end an import part-way, also shown at upload.
define("lists.file.xlsx_damaged", gettext_noop("This .xlsx file is damaged or not a spreadsheet."))
define("lists.file.xls_damaged", gettext_noop("This .xls file is damaged or not a spreadsheet."))
define(
    "lists.file.not_text",
    gettext_noop(
        "This file is not a text file; save it as CSV (UTF-8) or plain text and try again."
    ),
)
define("lists.file.no_data", gettext_noop("The file has no rows with data."))
define(
    "lists.file.too_many_columns",
    gettext_noop(
        "Row %(row)s has %(columns)s columns; a file of subscribers may have at most %(limit)s."
    ),
)
define(
    "lists.file.row_too_long",
    gettext_noop(
        "Row %(row)s is longer than %(limit)s; this does not look like a list of addresses."
    ),
)
# `error` is Python's csv module's own explanation, in English.
define("lists.file.not_csv", gettext_noop("Row %(row)s cannot be read as CSV: %(error)s."))

# --- why an export failed (ExportJob.failure_reason) ---------------------------------------------

define(
    "lists.export.source_gone",
    gettext_noop("The list or segment was deleted before its export was written."),
)
define(
    "lists.export.write_failed",
    gettext_noop("The file could not be written. Please try again in a few minutes."),
)
