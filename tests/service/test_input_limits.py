"""Issue 14, break 4 and the minor list: bad input is a specific 4xx before the database, never a 500."""

from __future__ import annotations

import pytest

from tests.service.test_api import post_landmarks


@pytest.mark.parametrize("patient_id", ["p-nl\n", "p-0042\r\n", "\np-0042"])
def test_a_patient_id_with_a_newline_is_refused(client, auth, patient_id):
    r = post_landmarks(client, auth, patient_id=patient_id)  # "$" matched before a final newline
    assert r.status_code == 422 and r.json()["detail"].startswith("patient_id:")
