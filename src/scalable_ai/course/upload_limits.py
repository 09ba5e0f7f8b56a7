"""How large a body each route that takes a file may send: the file's own limit (a hand-in's
50 MiB, a scribe PDF's 10 MiB, a roster CSV's 2 MiB) plus room for the form around it.

Every other request is held to ``course.web.limits.WebLimits.body_bytes`` (1 MiB); these
are the exceptions, declared on the routes with FastAPI's ``max_body_size``.
"""

from __future__ import annotations

MiB = 1024 * 1024
#: Room for the form fields and multipart framing around a file of the route's size.
FORM_OVERHEAD_BYTES = 256 * 1024
HAND_IN_FILE_BYTES = 50 * MiB
SCRIBE_PDF_BYTES = 10 * MiB
ROSTER_CSV_BYTES = 2 * MiB
#: The routes that take a file, and the body each may send (the file plus the form).
UPLOAD_ROUTE_BYTES = {
    "hand_in": HAND_IN_FILE_BYTES + FORM_OVERHEAD_BYTES,
    "scribe_notes": SCRIBE_PDF_BYTES + FORM_OVERHEAD_BYTES,
    "roster_import": ROSTER_CSV_BYTES + FORM_OVERHEAD_BYTES,
    # A written answer's PDF (issue 16) is held to a scribe PDF's size.
    "written_answer": SCRIBE_PDF_BYTES + FORM_OVERHEAD_BYTES,
    # The API takes a PDF as base64 inside JSON: 4/3 of the PDF's size.
    "scribe_notes_json": SCRIBE_PDF_BYTES * 4 // 3 + FORM_OVERHEAD_BYTES,
}
