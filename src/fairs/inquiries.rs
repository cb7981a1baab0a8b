//! Supply–demand inquiries between a fair's wholesale buyers and its booths: asked, quoted,
//! accepted or declined, each step told to the other side once (`notify` on `user:<id>`).
//!
//! Keys: `{f:<fair>}:inquiry:<id>` (changed by compare-and-set), `inquiry:<id>:fair`, and the
//! indexes `{u:<buyer>}:inquiries`, `{s:<seller>}:inquiries`, `{f:<fair>}:inquiries`; a buyer's
//! rate `{u:<buyer>}:inquiry-rate`.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::{CAS_TRIES, FairError, Fairs, decode, encode};
use crate::auth::{Role, User};
use crate::catalog::CatalogError;
use crate::domain::fair::{BoothStatus, FairStatus};
use crate::domain::inquiry::{BuyerContact, Inquiry, InquiryInput, Parties, QuoteInput};
use crate::engine::EngineError;

/// Inquiries one buyer may send an hour: enough for a buyer shopping a fair, not for a script.
pub const INQUIRIES_PER_HOUR: i64 = 30;
/// Inquiries one list returns at most, newest first.
const LIST_LIMIT: usize = 500;

fn inquiry_key(fair: Uuid, id: Uuid) -> String {
    format!("{{f:{fair}}}:inquiry:{id}")
}
fn inquiry_fair(id: Uuid) -> String {
    format!("inquiry:{id}:fair")
}
fn buyer_index(user: Uuid) -> String {
    format!("{{u:{user}}}:inquiries")
}
fn seller_index(seller: Uuid) -> String {
    format!("{{s:{seller}}}:inquiries")
}
fn fair_index(fair: Uuid) -> String {
    format!("{{f:{fair}}}:inquiries")
}

impl Fairs {
    async fn load_inquiry(&self, id: Uuid) -> Result<(Bytes, Inquiry), FairError> {
        let missing = || FairError::NotFound("no such inquiry");
        let fair = self.engine.state.get(&inquiry_fair(id)).await?.ok_or_else(missing)?;
        let fair = std::str::from_utf8(&fair).ok().and_then(|f| Uuid::parse_str(f).ok()).ok_or_else(missing)?;
        let bytes = self.engine.state.get(&inquiry_key(fair, id)).await?.ok_or_else(missing)?;
        let inquiry = decode(&bytes)?;
        Ok((bytes, inquiry))
    }

    /// A buyer asks a booth for a quote; the seller is told (`inquiry`).
    pub async fn inquire(&self, user: &User, booth_id: Uuid, input: &InquiryInput) -> Result<Inquiry, FairError> {
        if user.role != Role::Buyer {
            return Err(FairError::Forbidden("only buyers send inquiries"));
        }
        let (_, booth) = self.load_booth(booth_id).await?;
        if booth.status != BoothStatus::Approved {
            return Err(FairError::NotFound("no such booth"));
        }
        let fair = self.get(booth.fair_id).await?;
        if !matches!(fair.status, FairStatus::Published | FairStatus::Open) {
            return Err(FairError::InvalidState("the fair is not open for inquiries".into()));
        }
        if let Some(product) = input.product_id {
            match self.catalog.record(product).await {
                Ok(r) if r.seller_id == booth.seller_id => {}
                Ok(_) | Err(CatalogError::NotFound) => {
                    return Err(FairError::Invalid(crate::domain::FieldErrors::single(
                        "product_id",
                        "not one of this booth's products",
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let parties = Parties {
            fair_id: booth.fair_id,
            booth_id,
            buyer_id: user.id,
            buyer_name: &user.name,
            seller_id: booth.seller_id,
            seller_name: &booth.seller_name,
        };
        let inquiry = input
            .validate(Uuid::now_v7(), &parties, self.clock.now(), self.clock.today_in_vietnam())
            .map_err(FairError::Invalid)?;
        let rate = self
            .engine
            .state
            .count_in_window(&format!("{{u:{}}}:inquiry-rate", user.id), 1, Duration::from_secs(3600))
            .await?;
        if rate.count > INQUIRIES_PER_HOUR {
            return Err(FairError::RateLimited { retry_after_ms: rate.resets_in.as_millis().max(1) as u64 });
        }
        let id = inquiry.id.to_string();
        self.engine.state.set(&inquiry_key(booth.fair_id, inquiry.id), &encode(&inquiry)?, None).await?;
        self.engine.state.set(&inquiry_fair(inquiry.id), booth.fair_id.to_string().as_bytes(), None).await?;
        self.engine.state.index_add(&buyer_index(user.id), &id).await?;
        self.engine.state.index_add(&seller_index(booth.seller_id), &id).await?;
        self.engine.state.index_add(&fair_index(booth.fair_id), &id).await?;
        self.notify(booth.seller_user_id, "inquiry", "inquiry", &inquiry, inquiry.id).await?;
        Ok(inquiry)
    }

    async fn update_inquiry(
        &self,
        id: Uuid,
        change: impl Fn(&mut Inquiry) -> Result<(), FairError>,
    ) -> Result<Inquiry, FairError> {
        for _ in 0..CAS_TRIES {
            let (bytes, inquiry) = self.load_inquiry(id).await?;
            let mut next = inquiry.clone();
            change(&mut next)?;
            let key = inquiry_key(inquiry.fair_id, id);
            if self.engine.state.compare_and_set(&key, Some(&bytes), &encode(&next)?).await? {
                return Ok(next);
            }
        }
        Err(FairError::Engine(EngineError::Unavailable("inquiry is being changed too often; retry".into())))
    }

    /// The booth's seller quotes an open inquiry; the buyer is told (`quote`).
    pub async fn quote(&self, user: &User, id: Uuid, input: &QuoteInput) -> Result<Inquiry, FairError> {
        let (_, inquiry) = self.load_inquiry(id).await?;
        if user.seller_id != Some(inquiry.seller_id) {
            return Err(FairError::Forbidden("only the booth's seller quotes"));
        }
        let now = self.clock.now();
        let quote = input.validate(now).map_err(FairError::Invalid)?;
        let inquiry = self
            .update_inquiry(id, |i| i.quote(quote.clone(), now).map_err(|m| FairError::InvalidState(m.into())))
            .await?;
        self.notify(inquiry.buyer_id, "quote", "inquiry", &inquiry, inquiry.id).await?;
        Ok(inquiry)
    }

    /// The buyer accepts the quote; the seller is told (`inquiry.accepted`).
    pub async fn accept(&self, user: &User, id: Uuid) -> Result<Inquiry, FairError> {
        let (_, inquiry) = self.load_inquiry(id).await?;
        if user.id != inquiry.buyer_id {
            return Err(FairError::Forbidden("only the buyer who asked accepts a quote"));
        }
        let now = self.clock.now();
        // The seller gets the buyer's contact with the acceptance, to arrange the deal.
        let contact = match self.accounts.get(user.id).await {
            Ok(a) => Some(BuyerContact {
                name: a.delivery.as_ref().map_or_else(|| a.name.clone(), |d| d.name.clone()),
                email: a.email.clone(),
                phone: a.delivery.as_ref().map(|d| d.phone.clone()).or(a.phone.clone()),
                address: a.delivery.as_ref().map(|d| d.address.clone()),
            }),
            Err(crate::accounts::AccountError::Engine(e)) => return Err(e.into()),
            Err(_) => None,
        };
        let inquiry = self
            .update_inquiry(id, |i| {
                i.accept(now).map_err(|m| FairError::InvalidState(m.into()))?;
                i.buyer_contact.clone_from(&contact);
                Ok(())
            })
            .await?;
        let seller = self.seller_account(&inquiry).await?;
        self.notify(seller, "inquiry.accepted", "inquiry", &inquiry, inquiry.id).await?;
        Ok(inquiry)
    }

    /// The buyer or the seller declines; the other side is told (`inquiry.declined`).
    pub async fn decline(&self, user: &User, id: Uuid) -> Result<Inquiry, FairError> {
        let (_, inquiry) = self.load_inquiry(id).await?;
        let buyer = user.id == inquiry.buyer_id;
        if !buyer && user.seller_id != Some(inquiry.seller_id) {
            return Err(FairError::Forbidden("only the buyer who asked or the booth's seller declines"));
        }
        let now = self.clock.now();
        let inquiry =
            self.update_inquiry(id, |i| i.decline(now).map_err(|m| FairError::InvalidState(m.into()))).await?;
        let other = if buyer { self.seller_account(&inquiry).await? } else { inquiry.buyer_id };
        self.notify(other, "inquiry.declined", "inquiry", &inquiry, inquiry.id).await?;
        Ok(inquiry)
    }

    async fn seller_account(&self, inquiry: &Inquiry) -> Result<Uuid, FairError> {
        Ok(self.load_booth(inquiry.booth_id).await?.1.seller_user_id)
    }

    async fn inquiries_in(&self, index: &str) -> Result<Vec<Inquiry>, FairError> {
        let ids = self.engine.state.index_range(index, None, LIST_LIMIT).await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids.iter().rev().filter_map(|i| Uuid::parse_str(i).ok()) {
            match self.load_inquiry(id).await {
                Ok((_, i)) => items.push(i),
                Err(FairError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(items)
    }

    /// The caller's inquiries, newest first: a buyer's sent, a seller's received.
    pub async fn my_inquiries(&self, user: &User) -> Result<Vec<Inquiry>, FairError> {
        match (user.role, user.seller_id) {
            (Role::Buyer, _) => self.inquiries_in(&buyer_index(user.id)).await,
            (Role::Seller, Some(seller)) => self.inquiries_in(&seller_index(seller)).await,
            _ => Err(FairError::Forbidden("inquiries are a buyer's or a seller's")),
        }
    }

    /// Every inquiry of a fair, newest first; its organiser.
    pub async fn fair_inquiries(&self, user: &User, fair: Uuid) -> Result<Vec<Inquiry>, FairError> {
        self.organised(fair, user).await?;
        self.fair_inquiries_unchecked(fair).await
    }

    pub(super) async fn fair_inquiries_unchecked(&self, fair: Uuid) -> Result<Vec<Inquiry>, FairError> {
        self.inquiries_in(&fair_index(fair)).await
    }
}
