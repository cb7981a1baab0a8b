//! An order as clients see it (`order` in PROTOCOL.md §2). It is built when placed and stored as
//! its JSON; the engine keeps its status, a later delivery contact and whether it waits for an
//! address beside it, and [`Order::view`] puts them together.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::EngineError;
use crate::engine::sales::StoredOrder;

/// One line of an order: the server's price at the time it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub name: String,
    pub qty: i64,
    /// VND.
    pub unit_price: i64,
}

/// Where an order goes: a full contact, or, while it waits for an address, what the account
/// knows (optional fields are absent, never null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Fields are declared in the order clients have always read them (alphabetical); later
/// additions default, so orders stored before them still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_due_at: Option<String>,
    pub buyer_id: Uuid,
    /// `address_missing` for an order cancelled because its address never came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub created_at: String,
    pub delivery: OrderContact,
    pub id: Uuid,
    pub items: Vec<OrderItem>,
    /// The idempotency key it was placed with.
    pub key: String,
    /// True while it is placed and waits for the buyer's address.
    #[serde(default)]
    pub needs_address: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<Uuid>,
    #[serde(default = "cash_on_delivery")]
    pub payment: String,
    pub seller_id: Uuid,
    pub show_id: Uuid,
    /// `offer`, `pinned` or `chat`.
    pub source: String,
    /// `placed`, `confirmed`, `shipped` or `cancelled`; kept by the engine, not in the stored JSON.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// VND.
    pub total: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn cash_on_delivery() -> String {
    "cod".into()
}

impl Order {
    /// The order as clients see it: the stored JSON with the status, the delivery contact given
    /// since, whether it still waits for an address, and why it was cancelled when it never came.
    pub fn view(stored: &StoredOrder) -> Result<Order, EngineError> {
        let mut order: Order = serde_json::from_str(&stored.json)
            .map_err(|e| EngineError::Internal(format!("order {} does not read: {e}", stored.id)))?;
        order.status = stored.status.clone();
        if let Some(contact) = stored.delivery.as_deref().and_then(|d| serde_json::from_str(d).ok()) {
            order.delivery = contact;
        }
        let waiting = stored.needs_address && stored.status == "placed";
        order.needs_address = waiting;
        if !waiting {
            order.address_due_at = None;
        }
        if stored.needs_address && stored.status == "cancelled" {
            order.cancel_reason = Some("address_missing".into());
        }
        if !stored.updated_at.is_empty() {
            order.updated_at = Some(stored.updated_at.clone());
        }
        Ok(order)
    }

    /// The stored JSON: everything but what the engine keeps beside it.
    pub fn stored_json(&self) -> Result<String, EngineError> {
        let encode = |o: &Order| serde_json::to_string(o).map_err(|e| EngineError::Internal(e.to_string()));
        // An order is stored as it is placed, before it has a status: no copy then.
        if self.status.is_empty() { encode(self) } else { encode(&Order { status: String::new(), ..self.clone() }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(json: &serde_json::Value, status: &str, needs_address: bool) -> StoredOrder {
        StoredOrder {
            id: Uuid::nil(),
            json: json.to_string(),
            status: status.into(),
            updated_at: String::new(),
            delivery: None,
            needs_address,
        }
    }

    fn placed_without_address() -> serde_json::Value {
        json!({
            "id": Uuid::nil(), "key": "k-12345678", "buyer_id": Uuid::nil(), "seller_id": Uuid::nil(),
            "show_id": Uuid::nil(), "items": [{"product_id": Uuid::nil(), "name": "Mật ong", "qty": 2, "unit_price": 390000}],
            "total": 780000, "source": "chat", "payment": "cod", "delivery": {"name": "Lan"},
            "needs_address": true, "address_due_at": "2026-12-01T12:30:00.000Z", "created_at": "2026-12-01T12:00:00.000Z",
        })
    }

    #[test]
    fn a_stored_order_reads_back_with_what_the_engine_keeps_beside_it() {
        let waiting = Order::view(&stored(&placed_without_address(), "placed", true)).unwrap();
        assert!(waiting.needs_address);
        assert_eq!(waiting.address_due_at.as_deref(), Some("2026-12-01T12:30:00.000Z"));
        assert_eq!(waiting.delivery, OrderContact { name: "Lan".into(), phone: None, address: None });

        let mut filled = stored(&placed_without_address(), "placed", false);
        filled.delivery = Some(json!({"name": "Lan", "phone": "0912345678", "address": "Hà Nội"}).to_string());
        filled.updated_at = "2026-12-01T12:05:00.000Z".into();
        let filled = Order::view(&filled).unwrap();
        assert!(!filled.needs_address);
        assert_eq!(filled.address_due_at, None, "no deadline once the address came");
        assert_eq!(filled.delivery.address.as_deref(), Some("Hà Nội"));
        assert_eq!(filled.updated_at.as_deref(), Some("2026-12-01T12:05:00.000Z"));

        let expired = Order::view(&stored(&placed_without_address(), "cancelled", true)).unwrap();
        assert_eq!(expired.cancel_reason.as_deref(), Some("address_missing"));
        assert!(!expired.needs_address);

        // As clients read it: the same keys as the JSON it was stored from, plus its status.
        let mut expected = placed_without_address();
        expected["status"] = json!("placed");
        assert_eq!(serde_json::to_value(&waiting).unwrap(), expected);
        assert!(!waiting.stored_json().unwrap().contains("\"status\""));
    }

    #[test]
    fn an_order_stored_before_later_fields_existed_still_reads() {
        let mut old = placed_without_address();
        for field in ["needs_address", "address_due_at", "payment"] {
            old.as_object_mut().unwrap().remove(field);
        }
        let order = Order::view(&stored(&old, "confirmed", false)).unwrap();
        assert_eq!(order.payment, "cod");
        assert!(Order::view(&stored(&json!({"id": 1}), "placed", false)).is_err(), "a damaged record is an error");
    }
}
