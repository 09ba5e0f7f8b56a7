"""The roster's names and addresses: one rule for people, groups, thread titles and the
questionnaire's preferred teammates."""

from __future__ import annotations

import pytest

from scalable_ai.course.policy.roster import clean_email, clean_name, is_email_address
from scalable_ai.errors import UserError


def test_a_name_is_one_line_of_1_to_200_characters():
    assert clean_name("  Ada \n  Ng ") == "Ada Ng"
    with pytest.raises(UserError, match="a group name is 1 to 200 characters") as info:
        clean_name(" ", what="a group name")
    assert info.value.field == "name"
    with pytest.raises(UserError):
        clean_name("x" * 201)


def test_an_email_address_is_compared_in_lower_case_and_refused_naming_the_field():
    assert clean_email(" Ada.Ng@Example.EDU ") == "ada.ng@example.edu"
    assert not is_email_address("ada@localhost") and not is_email_address("a b@x.edu")
    with pytest.raises(UserError) as info:
        clean_email("not-an-email", field="preferred_teammates")
    assert info.value.field == "preferred_teammates"
