"""schemas.compat.breaking_changes on real schemas, and the checked-in contracts agreeing with the code."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import Field, create_model

from schemas.compat import breaking_changes
from schemas.contracts import CONTRACTS, check, expected_files, json_schema, schema_path
from schemas.feedback.v1 import FeedbackV1
from schemas.validated_turn.v1 import ValidatedTurnV1


def _checked_in(name: str, version: int) -> dict:
    return json.loads((CONTRACTS / "schemas" / name / f"v{version}.schema.json").read_text(encoding="utf-8"))


def test_a_checked_in_schema_is_compatible_with_itself():
    raw_v1 = _checked_in("raw_turn", 1)
    assert breaking_changes(raw_v1, copy.deepcopy(raw_v1)) == []


def test_raw_turn_v1_to_v2_is_reported_as_breaking():
    problems = breaking_changes(_checked_in("raw_turn", 1), _checked_in("raw_turn", 2))
    assert "speaker: field removed" in problems
    assert any(p.startswith("role: new required field") for p in problems), problems
    assert any(p.startswith("schema_version: type changed") for p in problems), problems


def test_a_new_optional_field_is_compatible():
    variant = create_model(
        "ValidatedTurnV1", __base__=ValidatedTurnV1,
        new_optional=(str | None, Field(default=None, description="x")),
    )
    new = variant.model_json_schema()
    assert "new_optional" in new["properties"]
    assert breaking_changes(ValidatedTurnV1.model_json_schema(), new) == []


def test_description_and_title_changes_are_compatible():
    old = json_schema("feedback", 1)
    new = copy.deepcopy(old)
    new["properties"]["comment"]["description"] = "reworded"
    new["title"] = "Renamed"
    assert breaking_changes(old, new) == []


def test_making_an_optional_field_required_is_reported():
    class FeedbackTurnRequired(FeedbackV1):
        turn_id: str | None = Field(description="Id of the turn, now required.")

    problems = breaking_changes(FeedbackV1.model_json_schema(), FeedbackTurnRequired.model_json_schema())
    assert problems == ["turn_id: optional field made required"]


def test_making_a_required_field_optional_is_reported():
    class FeedbackLabelOptional(FeedbackV1):
        label_value: str = Field(default="", max_length=128, description="The true label, now optional.")

    problems = breaking_changes(FeedbackV1.model_json_schema(), FeedbackLabelOptional.model_json_schema())
    assert problems == ["label_value: required field made optional (old consumers rely on it)"]


def test_making_an_optional_field_required_and_non_null_reports_both():
    class FeedbackTurnRequired(FeedbackV1):
        turn_id: str = Field(description="Id of the turn, now required.")

    problems = breaking_changes(FeedbackV1.model_json_schema(), FeedbackTurnRequired.model_json_schema())
    assert "turn_id: optional field made required" in problems
    assert any(p.startswith("turn_id: type changed") for p in problems), problems


def test_retyping_a_field_is_reported():
    class TurnIndexAsString(ValidatedTurnV1):
        turn_index: str = Field(description="0-based position, now a string.")  # type: ignore[assignment]

    problems = breaking_changes(ValidatedTurnV1.model_json_schema(), TurnIndexAsString.model_json_schema())
    assert problems == ["turn_index: type changed from ['integer'] to ['string']"]


def test_removing_a_field_is_reported():
    old = json_schema("validated_turn", 1)
    new = copy.deepcopy(old)
    del new["properties"]["tenant_id"]
    new["required"].remove("tenant_id")
    assert breaking_changes(old, new) == ["tenant_id: field removed"]


def test_adding_an_enum_value_is_reported():
    old = json_schema("validated_turn", 1)
    new = copy.deepcopy(old)
    new["$defs"]["Role"]["enum"].append("supervisor")
    problems = breaking_changes(old, new)
    assert len(problems) == 1
    assert problems[0].startswith("role: enum values added ['supervisor']")


def test_removing_an_enum_value_is_reported():
    old = json_schema("validated_turn", 1)
    new = copy.deepcopy(old)
    new["$defs"]["Channel"]["enum"].remove("email")
    assert breaking_changes(old, new) == ["channel: enum values removed ['email']"]


def test_a_retyped_field_of_a_nested_definition_is_reported_with_its_path():
    old = json_schema("prediction", 1)
    new = copy.deepcopy(old)
    new["$defs"]["ModelOutput"]["properties"]["confidence"] = {"type": "string", "description": "now text"}
    problems = breaking_changes(old, new)
    assert len(problems) == 1
    assert "outputs[].confidence" in problems[0]
    assert "type changed" in problems[0]


def test_a_new_required_field_inside_a_nested_definition_is_reported_with_its_path():
    old = json_schema("prediction", 1)
    new = copy.deepcopy(old)
    part = new["$defs"]["PiiSpan"]
    part["properties"]["source"] = {"type": "string", "description": "new"}
    part["required"].append("source")
    assert [p for p in breaking_changes(old, new)] == [
        "pii[].source: new required field (old producers do not send it)"
    ]


def test_a_retyped_map_value_is_reported():
    old = json_schema("features", 1)
    new = copy.deepcopy(old)
    new["properties"]["numeric"]["additionalProperties"] = {"type": "string"}
    problems = breaking_changes(old, new)
    assert problems == ["numeric.*: type changed from ['number'] to ['string']"]


def test_contracts_check_finds_no_problem_in_the_repository():
    assert check() == []


def test_generated_raw_turn_v2_schema_equals_the_checked_in_file_byte_for_byte():
    path = schema_path("raw_turn", 2)
    generated = expected_files()[path]
    assert path.read_bytes() == generated.encode("utf-8")


def _contracts_tree_with_feedback_schema_edited(monkeypatch, tmp_path, edit) -> list[str]:
    """Run contracts.check() against a temporary copy of the generated contracts whose feedback/v1
    schema file went through `edit` (the real repository is not touched)."""
    import schemas.contracts as contracts

    fake_contracts = tmp_path / "contracts"
    for path, content in expected_files().items():
        target = fake_contracts / path.relative_to(CONTRACTS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    edited = fake_contracts / "schemas" / "feedback" / "v1.schema.json"
    document = json.loads(edited.read_text(encoding="utf-8"))
    edit(document)
    edited.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(contracts, "CONTRACTS", fake_contracts)
    monkeypatch.setattr(contracts, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(contracts, "README", tmp_path / "README.md")
    (tmp_path / "README.md").write_text(contracts.readme_with_table(f"{contracts.TABLE_BEGIN}{contracts.TABLE_END}"))
    return contracts.check()


def test_contracts_check_calls_a_checked_in_schema_lacking_a_new_optional_field_out_of_date(monkeypatch, tmp_path):
    problems = _contracts_tree_with_feedback_schema_edited(
        monkeypatch, tmp_path, lambda doc: doc["properties"].pop("comment")
    )
    assert problems == [
        "contracts/schemas/feedback/v1.schema.json: out of date (compatible change); run `make contracts`"
    ]


def test_contracts_check_calls_a_field_the_code_dropped_breaking(monkeypatch, tmp_path):
    def add_field_the_code_lacks(doc: dict) -> None:
        doc["properties"]["legacy_score"] = {"type": "number", "description": "gone from the code"}

    problems = _contracts_tree_with_feedback_schema_edited(monkeypatch, tmp_path, add_field_the_code_lacks)
    assert len(problems) == 1
    assert problems[0].startswith("contracts/schemas/feedback/v1.schema.json: BREAKING change within a version")
    assert "legacy_score: field removed" in problems[0]


@pytest.mark.parametrize("name", ["raw_turn", "feedback", "prediction"])
def test_every_generated_schema_is_compatible_with_its_checked_in_file(name):
    assert breaking_changes(_checked_in(name, 1), json_schema(name, 1)) == []
