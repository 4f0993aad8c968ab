"""Free text typed through the web is stored encrypted and shown in clear to whoever may
read it (issue 11, finding 4): a complaint filed through the API, extended and resolved
by compliance; the database holds no clear copy and the console page shows the text."""

from __future__ import annotations

from sqlalchemy import select

from forbear.store.complaints import Complaint
from forbear.store.crypto import Contexts

DESCRIPTION = "借款人说自己身份证号是41010519900101123X，半夜被打电话"
REASON = "需调取录音，借款人住院中"
RESOLUTION = "已致歉并暂停联系至出院"


def test_complaint_text_is_sealed_at_rest_and_shown_to_compliance(
    client, sign_in, book, db
) -> None:  # type: ignore[no-untyped-def]
    made = sign_in("agent1").post(
        "/api/v1/complaints",
        json={"loan_id": book.queue_loan, "category": "harassment", "description": DESCRIPTION},
    )
    assert made.status_code == 201, made.text
    complaint_id = made.json()["id"]
    officer = sign_in("compliance1")
    path = f"/api/v1/complaints/{complaint_id}"
    assert officer.post(f"{path}/start").status_code == 200
    assert officer.post(f"{path}/extend", json={"reason": REASON}).status_code == 200
    resolved = officer.post(
        f"{path}/resolve", json={"resolution": RESOLUTION, "root_cause": "agent_conduct"}
    )
    assert resolved.status_code == 200, resolved.text
    seen = officer.get(path).json()
    assert (seen["description"], seen["resolution"]) == (DESCRIPTION, RESOLUTION)
    row = db.conn.execute(select(Complaint).where(Complaint.id == complaint_id)).one()
    stored = b"".join(
        bytes(v) for v in (row.description_enc, row.extension_reason_enc, row.resolution_enc)
    )
    for text in (DESCRIPTION, REASON, RESOLUTION, "41010519900101123X"):
        assert text.encode("utf-8") not in stored
    assert (
        db.vault.decrypt(row.extension_reason_enc, context=Contexts.COMPLAINT_EXTENSION_REASON)
        == REASON
    )
    page = officer.get(f"/compliance/complaints/{complaint_id}")
    assert page.status_code == 200 and DESCRIPTION in page.text and RESOLUTION in page.text
