"""PII detection and redaction shared by the features service (and later the guardrails service).

    from services.runtime.pii import PiiDetector, PiiMatch, redact
    detector = PiiDetector()
    matches = detector.detect(text, ner=detector.parse_ner_spans(pii_ner_output))
    redacted_text, kept = redact(text, matches)

Deterministic recognizers (validated numbers, read-aloud forms, context-cued names) run in-process; the
Rampart NER model runs on Triton as model ``pii_ner`` and its spans are merged here.
"""
from .detector import NER_LABEL_MAP, PII_TYPES, PiiDetector, PiiMatch, redact
from .residual import residual_matches

__all__ = ["NER_LABEL_MAP", "PII_TYPES", "PiiDetector", "PiiMatch", "redact", "residual_matches"]
