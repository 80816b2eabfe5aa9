"""Privacy: personal data encrypted at rest, searchable by blind index, masked wherever it is shown.

* :mod:`arrears.privacy.crypto` — the AES-256-GCM key ring and HMAC blind indexes;
* :mod:`arrears.privacy.masking` — masked display forms (``110***********1234``, ``138****0001``);
* :mod:`arrears.privacy.logging` — a logging filter that masks personal data in log records;
* :mod:`arrears.privacy.service` — reveal, blind-index search, legal holds, consents, agreements,
  erasure, exports and key rotation;
* :mod:`arrears.privacy.sharing` — what sharing with another processor needs, per jurisdiction;
* :mod:`arrears.privacy.retention` — the retention policy file and the run that applies it;
* :mod:`arrears.privacy.tables` — agreements, consents, holds, erasures, key rotation runs.

Validation of the values themselves is pure domain logic, in :mod:`arrears.domain.identity`.
"""
