"""Account enforcement (DESIGN.md rule 8), one module a job:

- decisions: a moderator warns, freezes or unfreezes an account (campaigns under way pause and
  resume);
- appeals: the frozen account's one appeal, its grant or rejection, the appeal window's expiry;
- health: the automatic health check across campaigns (a warning and a flag, never a freeze);
- abuse: the resolution of abuse reports;
- deletion: the owner's closing and the deletion of an account's data, app by app.

Every decision locks the account row first and acts only when something changes, so a repeated
click (or a task run twice) writes no second audit entry and sends no second notification. The
account's state changes only through accounts.services.account_state_change (accounts.states).
Sending stops through campaigns.sending: freezing pauses the campaigns under way, and workers
also stop at their next batch because a frozen account cannot send.
"""
