"""The event schemas: frozen models, documented fields, JSON round-trips, ids, and the raw_turn upcast."""

from __future__ import annotations

import types
import typing
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel, ValidationError

from schemas import REGISTRY, Channel, EventModel, Role, UnknownSchemaError
from schemas._parts import ModelOutput, PiiSpan, VerdictReason
from schemas.dead_letter.v1 import FieldError, OriginalHeader
from schemas.examples import EXAMPLES
from schemas.online_metrics.v1 import ClassMetrics
from schemas.raw_turn.upcast import UpcastError
from schemas.raw_turn.v1 import RawTurnV1
from schemas.raw_turn.v2 import RawTurnV2

EXAMPLE_BY_KEY: dict[tuple[str, int], EventModel] = {e.schema_key(): e for e in EXAMPLES}
REGISTERED = sorted(REGISTRY.models.items())
REGISTERED_IDS = [f"{name}/v{version}" for (name, version), _ in REGISTERED]
T = datetime(2026, 11, 27, 9, 30, 17, tzinfo=timezone.utc)
T_END = datetime(2026, 11, 27, 9, 30, 21, tzinfo=timezone.utc)


def _nested_models(annotation: object) -> set[type[BaseModel]]:
    """Pydantic models reachable from a field annotation (list[X], dict[str, X], X | None, ...)."""
    found: set[type[BaseModel]] = set()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.add(annotation)
    for arg in typing.get_args(annotation):
        found |= _nested_models(arg)
    return found


def _all_models_reachable_from(root: type[BaseModel]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending = [root]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for info in model.model_fields.values():
            pending.extend(_nested_models(info.annotation))
    return seen


ALL_MODELS = sorted(
    set().union(*(_all_models_reachable_from(model) for _, model in REGISTERED)), key=lambda m: m.__name__
)


def test_every_registered_schema_version_has_an_example():
    assert set(EXAMPLE_BY_KEY) == set(REGISTRY.models)


def test_the_recursive_model_walk_reaches_every_nested_value_object():
    reached = set(ALL_MODELS)
    assert {ModelOutput, PiiSpan, VerdictReason, ClassMetrics, OriginalHeader, FieldError} <= reached


@pytest.mark.parametrize(("key", "model"), REGISTERED, ids=REGISTERED_IDS)
def test_registered_event_models_are_frozen(key, model):
    example = EXAMPLE_BY_KEY[key]
    assert type(example) is model
    with pytest.raises(ValidationError, match="frozen"):
        example.event_id = "changed-id"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        example.occurred_at = T  # type: ignore[misc]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_including_nested_value_objects_is_frozen(model):
    assert model.model_config.get("frozen") is True


def test_nested_value_objects_refuse_assignment():
    output = ModelOutput(task="intent", model_name="m", model_version="1", label="x", confidence=0.5)
    metrics = ClassMetrics(precision=0.1, recall=0.2, f1=0.3, support=4)
    header = OriginalHeader(key="k", value_b64=None)
    with pytest.raises(ValidationError, match="frozen"):
        output.confidence = 0.9  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        metrics.support = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        header.key = "other"  # type: ignore[misc]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_field_of_every_model_has_a_description(model):
    undocumented = [
        name for name, info in model.model_fields.items() if not (info.description and info.description.strip())
    ]
    assert undocumented == [], f"{model.__name__} fields without a description: {undocumented}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.schema_id())
def test_every_example_round_trips_through_json(example):
    parsed = type(example).model_validate_json(example.to_json_bytes())
    assert parsed == example


def _raw_v2_with(**changes) -> dict:
    return {**EXAMPLE_BY_KEY[("raw_turn", 2)].model_dump(mode="json"), **changes}


@pytest.mark.parametrize("bad_id", ["", "has space", "a/b", " leading", "-starts-with-dash", "x" * 129])
def test_event_id_pattern_refuses_spaces_slashes_empty_and_overlong(bad_id):
    with pytest.raises(ValidationError) as info:
        RawTurnV2.model_validate(_raw_v2_with(event_id=bad_id))
    assert [e["loc"] for e in info.value.errors()] == [("event_id",)]


@pytest.mark.parametrize("good_id", ["0b6f4c1e-8d2a-4b71-9a55-3f7c2d1e0a42", "legacy-7f3e-0004", "a:b.c_d"])
def test_event_id_pattern_accepts_uuids_and_dotted_ids(good_id):
    assert RawTurnV2.model_validate(_raw_v2_with(event_id=good_id)).event_id == good_id


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (("raw_turn", 1), "raw_turn/v1"),
        (("raw_turn", 2), "raw_turn/v2"),
        (("validated_turn", 1), "validated_turn/v1"),
        (("features", 1), "features/v1"),
        (("prediction", 1), "prediction/v1"),
        (("enriched_turn", 1), "enriched_turn/v1"),
        (("review_request", 1), "review_request/v1"),
        (("feedback", 1), "feedback/v1"),
        (("labeled_example", 1), "labeled_example/v1"),
        (("online_metrics", 1), "online_metrics/v1"),
        (("drift_alert", 1), "drift_alert/v1"),
        (("retrain_request", 1), "retrain_request/v1"),
        (("dead_letter", 1), "dead_letter/v1"),
    ],
)
def test_schema_id_is_name_slash_v_version(key, expected):
    assert REGISTRY.model(*key).schema_id() == expected


KNOWN_SCHEMAS = {
    "raw_turn/v1", "raw_turn/v2", "validated_turn/v1", "features/v1", "prediction/v1", "enriched_turn/v1",
    "review_request/v1", "feedback/v1", "labeled_example/v1", "online_metrics/v1", "drift_alert/v1",
    "retrain_request/v1", "dead_letter/v1", "drift_observation/v1",
    "feedback_join/v1", "feedback_metric_update/v1",
}


def test_the_registry_holds_exactly_the_known_schema_versions():
    assert {f"{name}/v{version}" for name, version in REGISTRY.models} == KNOWN_SCHEMAS
    assert REGISTRY.versions("raw_turn") == [1, 2]


def _raw_v1(**changes) -> RawTurnV1:
    fields = dict(
        event_id="legacy-1", occurred_at=T, conversation_id="call-1", turn_index=3, speaker="Caller",
        text="hello", timestamp=T_END, medium="phone", tenant="acme", metadata={"queue": "billing"},
    )
    return RawTurnV1(**{**fields, **changes})


def test_upcast_raw_turn_v1_to_v2_maps_speaker_medium_times_and_tenant():
    old = _raw_v1()
    new = REGISTRY.upcast(old, 2)
    assert isinstance(new, RawTurnV2)
    assert new.role is Role.CUSTOMER
    assert new.channel is Channel.VOICE
    assert new.started_at == new.ended_at == old.timestamp == T_END
    assert new.occurred_at == old.occurred_at == T
    assert new.tenant_id == "acme"
    assert (new.event_id, new.conversation_id, new.turn_index, new.text) == ("legacy-1", "call-1", 3, "hello")
    assert new.language is None
    assert new.metadata == {"queue": "billing"}


@pytest.mark.parametrize(
    ("speaker", "role"),
    [("Caller", Role.CUSTOMER), ("rep", Role.AGENT), ("  REP ", Role.AGENT), ("ivr", Role.BOT)],
)
def test_upcast_maps_legacy_speaker_names_case_insensitively(speaker, role):
    assert REGISTRY.upcast(_raw_v1(speaker=speaker), 2).role is role


@pytest.mark.parametrize(("medium", "channel"), [("phone", Channel.VOICE), ("Chat", Channel.CHAT), ("email", Channel.EMAIL)])
def test_upcast_maps_legacy_medium_to_channel(medium, channel):
    assert REGISTRY.upcast(_raw_v1(medium=medium), 2).channel is channel


def test_upcast_refuses_a_speaker_without_a_v2_role():
    with pytest.raises(UpcastError, match="supervisor"):
        REGISTRY.upcast(_raw_v1(speaker="supervisor"), 2)


def test_upcast_refuses_a_medium_without_a_v2_channel():
    with pytest.raises(UpcastError, match="fax"):
        REGISTRY.upcast(_raw_v1(medium="fax"), 2)


def test_upcast_to_the_same_version_returns_the_event_unchanged():
    event = EXAMPLE_BY_KEY[("raw_turn", 2)]
    assert REGISTRY.upcast(event, 2) is event


def test_registry_lookup_of_an_unknown_schema_raises_unknown_schema_error():
    with pytest.raises(UnknownSchemaError, match="nope/v1"):
        REGISTRY.model("nope", 1)
    with pytest.raises(UnknownSchemaError, match="raw_turn/v3"):
        REGISTRY.model("raw_turn", 3)


def test_upcasting_to_an_older_version_raises():
    with pytest.raises(UnknownSchemaError, match="newer"):
        REGISTRY.upcast(EXAMPLE_BY_KEY[("raw_turn", 2)], 1)


def test_upcasting_without_a_registered_upcaster_raises():
    with pytest.raises(UnknownSchemaError, match="no upcaster"):
        REGISTRY.upcast(EXAMPLE_BY_KEY[("feedback", 1)], 2)


def test_registering_a_schema_version_twice_is_refused():
    from schemas.registry import SchemaRegistry

    registry = SchemaRegistry()
    registry.register(RawTurnV2)
    with pytest.raises(ValueError, match="twice"):
        registry.register(RawTurnV2)


def test_unknown_fields_are_ignored_within_a_version():
    event = RawTurnV2.model_validate(_raw_v2_with(added_by_newer_producer="x"))
    assert not hasattr(event, "added_by_newer_producer")


def test_the_model_walk_unwraps_optionals_and_containers():
    assert _nested_models(ModelOutput | None) == {ModelOutput}
    assert _nested_models(dict[str, ClassMetrics]) == {ClassMetrics}
    assert isinstance(ModelOutput | None, types.UnionType)
