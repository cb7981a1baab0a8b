"""Schemathesis hooks for scripts/schemathesis.

A few rules of the API tie one field to another or to stored data, which JSON Schema cannot say
(the OpenAPI document says them in the descriptions): a certificate expires after it was issued,
only a 4-star product may be a potential five-star one, a combo is made of the seller's own
single products, a show's lineup is the seller's products, and only sellers have a seller
profile, and a booth features its seller's products. Before each request generated as valid, these hooks make the body keep those rules, so that the check that valid data is accepted means something; requests
generated as invalid are sent as they are.

The server also cleans free text before checking it (control and invisible characters go,
runs of spaces become one, the ends are trimmed), and counts lengths on the cleaned text, which
JSON Schema cannot say either. A body accepted although too long as sent is no failure when it
is valid once cleaned; every other accepted invalid body still is.

Order operations get, in requests generated as valid, the id of one of the orders placed
before the run (in turn), so that they confirm, ship, cancel and address real orders rather
than answer 404 to every drawn id.

OCOP_SCHEMATHESIS_BASE is the server's address, OCOP_SCHEMATHESIS_PRODUCTS the ids of the
signed-in seller's single products, OCOP_SCHEMATHESIS_ORDERS those of the placed orders, both
comma-separated, and OCOP_SCHEMATHESIS_SELLER that seller's id (an organiser adds its booth).
A fair generated as valid opens in an hour and closes two days later, and a change to the open
demo fair leaves its times alone.
"""

import datetime
import json
import os
import unicodedata
import urllib.request

import schemathesis
from schemathesis.core.jsonschema import make_validator
from schemathesis.core.parameters import ParameterLocation

BASE = os.environ.get("OCOP_SCHEMATHESIS_BASE", "")
PRODUCTS = [p for p in os.environ.get("OCOP_SCHEMATHESIS_PRODUCTS", "").split(",") if p]
ORDERS = [o for o in os.environ.get("OCOP_SCHEMATHESIS_ORDERS", "").split(",") if o]
SELLER = os.environ.get("OCOP_SCHEMATHESIS_SELLER", "")
ORDER_OPERATIONS = {
    "POST /api/me/orders/{id}/cancel",
    "PUT /api/me/orders/{id}/delivery",
    "POST /api/seller/orders/{id}/confirm",
    "POST /api/seller/orders/{id}/ship",
    "POST /api/seller/orders/{id}/cancel",
}
order_turn = 0

def _is_positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _hours_from_now(hours):
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _product(product_id):
    """The product as the server has it, or None."""
    try:
        with urllib.request.urlopen(f"{BASE}/api/products/{product_id}", timeout=5) as response:
            return json.load(response)["product"]
    except Exception:
        return None


def _own_products(items):
    """As many of the seller's single products as were drawn (at least one), each once."""
    count = max(1, min(len(items) if isinstance(items, list) else 1, len(PRODUCTS)))
    return PRODUCTS[:count]


def _certificate(body):
    certificate = body.get("certificate")
    if isinstance(certificate, dict):
        issued, expires = certificate.get("issued_at"), certificate.get("expires_at")
        if isinstance(issued, str) and isinstance(expires, str) and not issued < expires:
            certificate["issued_at"], certificate["expires_at"] = "2025-03-15", "2028-03-15"


def _stars(body, current_stars=None, current_potential=False):
    """Only a 4-star product may be a potential five-star one."""
    stars = body.get("stars") if body.get("stars") is not None else current_stars
    potential = body.get("potential_five_star")
    potential = current_potential if potential is None else potential
    if potential and stars != 4:
        if body.get("potential_five_star") is True:
            body["stars"] = 4
        else:
            body["potential_five_star"] = False


def _components(body, combo, required):
    """A combo's components are the seller's single products; a single product has none."""
    if not combo:
        body.pop("components", None)
        return
    body.pop("stock", None)
    drawn = body.get("components")
    if drawn is None and not required:
        return
    drawn = drawn if isinstance(drawn, list) and drawn else [{"qty": 1}]
    body["components"] = [
        {"product_id": product_id, "qty": item.get("qty", 1) if isinstance(item, dict) else 1}
        for product_id, item in zip(_own_products(drawn), drawn)
    ]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    global order_turn
    if not _is_positive(case):
        return
    label = case.operation.label
    if label in ORDER_OPERATIONS and ORDERS and case.path_parameters:
        case.path_parameters["id"] = ORDERS[order_turn % len(ORDERS)]
        order_turn += 1
    body = case.body
    if not isinstance(body, dict):
        return
    if label in ("POST /api/auth/register", "POST /api/admin/users"):
        if body.get("role") != "seller":
            body.pop("seller", None)
    elif label == "POST /api/products":
        _certificate(body)
        _stars(body)
        _components(body, body.get("kind") == "combo", required=True)
    elif label == "PATCH /api/products/{id}":
        current = _product(case.path_parameters.get("id")) if case.path_parameters else None
        _certificate(body)
        if current is not None:
            _stars(body, current.get("stars"), current.get("potential_five_star", False))
            _components(body, current.get("kind") == "combo", required=False)
        else:
            _stars(body)
    elif label == "POST /api/shows":
        if isinstance(body.get("products"), list) and body["products"]:
            body["products"] = _own_products(body["products"])
        # A show joins a fair's agenda only with an approved booth, within the fair's hours and
        # clear of the seller's other shows, which the stored fairs decide; valid shows here
        # stay off agendas (tests/it/fairs.rs checks the agenda's rules).
        body.pop("fair_id", None)
    elif label in ("POST /api/fairs/{id}/booths", "PATCH /api/booths/{id}"):
        # A booth features the seller's own products; the organiser adds one for a seller.
        if SELLER and label.startswith("POST"):
            body["seller_id"] = SELLER
        if isinstance(body.get("featured_products"), list) and body["featured_products"]:
            body["featured_products"] = _own_products(body["featured_products"])
    elif label == "POST /api/fairs":
        # A fair closes after it opens, in the future, within 92 days.
        body["opens_at"], body["closes_at"] = _hours_from_now(1), _hours_from_now(49)
    elif label == "PATCH /api/fairs/{id}":
        # Times change only before a fair opens; the demo fair is open.
        body.pop("opens_at", None)
        body.pop("closes_at", None)


# The invisible formatting characters `vn::clean_text` drops, besides control characters.
FORMAT_CHARS = set(
    "\u00ad\u061c\u06dd\u070f\u08e2\u180e\ufeff\U000110bd\U000110cd\U000e0001"
    + "".join(chr(c) for lo, hi in [
        (0x0600, 0x0605), (0x0890, 0x0891), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
        (0x2066, 0x206F), (0xFFF9, 0xFFFB), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
        (0xE0020, 0xE007F),
    ] for c in range(lo, hi + 1))
)
# Rust's whitespace; Python's also has these four, which Rust counts as control characters.
NOT_WHITESPACE = set("\x1c\x1d\x1e\x1f")


def _clean(text):
    """`vn::clean_text`, but for joining emoji (those only make a text shorter here)."""
    out, pending_space = [], False
    for ch in text:
        if ch.isspace() and ch not in NOT_WHITESPACE:
            pending_space = True
            continue
        if unicodedata.category(ch) == "Cc" or ch in FORMAT_CHARS:
            continue
        if pending_space and out:
            out.append(" ")
        pending_space = False
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _cleaned(value):
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    return value


def _valid_body(case, body):
    declared = case.operation.get_body_for_media_type(case.media_type)
    if declared is None:
        return False
    validator = make_validator(declared.optimized_schema, case.operation.schema.adapter.jsonschema_validator_cls)
    return validator.is_valid(body)


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if type(failure).__name__ != "AcceptedNegativeData" or case.meta is None:
        return True
    negative = [location for location in case.meta.components if case.meta.is_negative_at(location)]
    if negative != [ParameterLocation.BODY] or not isinstance(case.body, dict):
        return True
    cleaned = _cleaned(case.body)
    return cleaned == case.body or not _valid_body(case, cleaned)
