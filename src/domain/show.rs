//! Live shows: the state machine, the stream, the lineup, who moderates.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldErrors, long_text, required_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShowStatus {
    #[default]
    Scheduled,
    Live,
    Ended,
}

impl ShowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShowStatus::Scheduled => "scheduled",
            ShowStatus::Live => "live",
            ShowStatus::Ended => "ended",
        }
    }
}

/// Where the video comes from; this server coordinates everything around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// An HLS playlist from a media server.
    Hls,
    Youtube,
    Facebook,
    #[default]
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    pub kind: StreamKind,
    /// Absent for `none`; otherwise at most 500 characters, without spaces, quotes or `<`: an
    /// http(s) URL of a `.m3u8` playlist for `hls`, a link on youtube.com or youtu.be for
    /// `youtube`, on facebook.com or fb.watch for `facebook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One product of the lineup, with the short code buyers type in chat ("chốt A1").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineupItem {
    pub product_id: Uuid,
    #[schema(example = "A1")]
    pub code: String,
}

/// What a show's summary says once it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShowSummary {
    pub duration_s: u64,
    pub peak_viewers: u64,
    pub unique_viewers: u64,
    pub chat_messages: u64,
    pub hearts: u64,
    /// Orders not cancelled, their units and revenue (VND).
    #[serde(default)]
    pub orders: i64,
    #[serde(default)]
    pub units: i64,
    #[serde(default)]
    pub revenue: i64,
    /// Per product of the lineup.
    #[serde(default)]
    pub products: Vec<SalesLine>,
    /// Per flash offer.
    #[serde(default)]
    pub offers: Vec<SalesLine>,
}

/// Sales of one product or one offer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SalesLine {
    pub id: Uuid,
    pub orders: i64,
    pub units: i64,
    pub revenue: i64,
}

/// A show as stored and as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Show {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub title: String,
    pub description: String,
    /// RFC 3339, when announced for later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    pub stream: Stream,
    pub lineup: Vec<LineupItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_id: Option<Uuid>,
    /// The organiser of its fair, who also moderates it and may end it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organiser_id: Option<Uuid>,
    /// The show's slot on an agenda, in minutes.
    #[serde(default = "default_slot")]
    pub duration_min: u32,
    pub status: ShowStatus,
    /// Appointed moderators, besides the seller (and the fair's organiser).
    #[serde(default)]
    pub moderators: Vec<Uuid>,
    /// Seconds a viewer must wait between chat messages; 0 is off.
    #[serde(default)]
    pub slow_mode_s: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_product_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Who stopped the show and why, when its fair's organiser or an admin did (the kill switch),
    /// or its seller gave a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// The stream link kept to watch again, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ShowSummary>,
}

/// Who ended a show and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stopped {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub by: StoppedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoppedBy {
    pub id: Uuid,
    pub name: String,
    pub role: crate::auth::Role,
}

/// `POST /api/shows`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowInput {
    #[schema(schema_with = super::openapi::text::<120>)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub description: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub scheduled_at: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::stream)]
    pub stream: Option<Stream>,
    /// The lineup, at most 50 of the seller's own products, each once, in the order buyers see
    /// it; codes A1, A2, … follow this order.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub products: Option<Vec<Uuid>>,
    /// Joins this fair's agenda (with `scheduled_at`): only a seller with an approved booth in
    /// it, within its opening hours, never overlapping another show of the same seller.
    #[serde(default)]
    pub fair_id: Option<Uuid>,
    /// The show's slot, 15 to 600 minutes; default 60.
    #[serde(default)]
    #[schema(minimum = 15, maximum = 600)]
    pub duration_min: Option<u32>,
}

fn default_slot() -> u32 {
    super::fair::DEFAULT_SLOT_MIN
}

/// The largest lineup: a show presents a handful of products, never a catalog.
pub const MAX_LINEUP: usize = 50;

impl ShowInput {
    /// Validates; `owns(product)` tells whether the product exists and belongs to the seller.
    pub fn validate(
        &self,
        id: Uuid,
        seller_id: Uuid,
        now: &str,
        owns: &dyn Fn(Uuid) -> bool,
    ) -> Result<Show, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = required_text(&mut errors, "title", &self.title, 120);
        let description = long_text(&mut errors, "description", self.description.as_deref(), 2000);
        let scheduled_at = self.scheduled_at.as_ref().map(|t| {
            if time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err() {
                errors.add("scheduled_at", "must be an RFC 3339 time like 2026-12-01T19:00:00+07:00");
            }
            t.clone()
        });
        let stream = self.stream.clone().unwrap_or_default();
        check_stream(&mut errors, &stream);
        let duration_min = self.duration_min.unwrap_or_else(default_slot);
        if !(15..=600).contains(&duration_min) {
            errors.add("duration_min", "must be from 15 to 600 minutes");
        }
        let products = self.products.clone().unwrap_or_default();
        if products.len() > MAX_LINEUP {
            errors.add("products", format!("at most {MAX_LINEUP} products"));
        }
        let mut lineup = Vec::new();
        for (i, product_id) in products.iter().enumerate() {
            if products[..i].contains(product_id) {
                errors.add(format!("products[{i}]"), "listed twice");
            } else if !owns(*product_id) {
                errors.add(format!("products[{i}]"), "not one of your products");
            } else {
                lineup.push(LineupItem { product_id: *product_id, code: format!("A{}", lineup.len() + 1) });
            }
        }
        errors.into_result()?;
        Ok(Show {
            id,
            seller_id,
            title,
            description,
            scheduled_at,
            stream,
            lineup,
            fair_id: self.fair_id,
            organiser_id: None,
            duration_min,
            status: ShowStatus::Scheduled,
            moderators: Vec::new(),
            slow_mode_s: 0,
            pinned_product_id: None,
            announcement: None,
            created_at: now.to_owned(),
            started_at: None,
            ended_at: None,
            replay_url: None,
            stopped: None,
            summary: None,
        })
    }
}

fn check_stream(errors: &mut FieldErrors, stream: &Stream) {
    let url = stream.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let host_ok = |url: &str, hosts: &[&str]| {
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        let host = rest.and_then(|r| r.split(['/', '?', '#']).next()).unwrap_or_default().to_ascii_lowercase();
        let host = host.split(':').next().unwrap_or_default().to_owned();
        hosts.iter().any(|h| host == *h || host.ends_with(&format!(".{h}")))
    };
    let clean = |url: &str| {
        url.len() <= 500 && !url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<')
    };
    match (stream.kind, url) {
        (StreamKind::None, None) => {}
        (StreamKind::None, Some(_)) => errors.add("stream.url", "a show without a stream has no url"),
        (_, None) => errors.add("stream.url", "this stream kind needs a url"),
        (StreamKind::Hls, Some(u)) => {
            if !(clean(u)
                && (u.starts_with("https://") || u.starts_with("http://"))
                && u.split('?').next().is_some_and(|p| p.ends_with(".m3u8")))
            {
                errors.add("stream.url", "an HLS stream is an http(s) URL of a .m3u8 playlist");
            }
        }
        (StreamKind::Youtube, Some(u)) => {
            if !(clean(u) && host_ok(u, &["youtube.com", "youtu.be"])) {
                errors.add("stream.url", "must be a youtube.com or youtu.be link");
            }
        }
        (StreamKind::Facebook, Some(u)) => {
            if !(clean(u) && host_ok(u, &["facebook.com", "fb.watch"])) {
                errors.add("stream.url", "must be a facebook.com or fb.watch link");
            }
        }
    }
}

impl Show {
    /// `scheduled → live → ended`; anything else is refused.
    pub fn transition(&mut self, to: ShowStatus, now: &str) -> Result<(), &'static str> {
        match (self.status, to) {
            (ShowStatus::Scheduled, ShowStatus::Live) => {
                self.status = ShowStatus::Live;
                self.started_at = Some(now.to_owned());
                Ok(())
            }
            (ShowStatus::Live, ShowStatus::Ended) => {
                self.status = ShowStatus::Ended;
                self.ended_at = Some(now.to_owned());
                self.replay_url = self.stream.url.clone();
                self.pinned_product_id = None;
                Ok(())
            }
            (ShowStatus::Scheduled, ShowStatus::Ended) => Err("a show that never went live cannot end"),
            (ShowStatus::Live, ShowStatus::Live) => Err("the show is already live"),
            (ShowStatus::Ended, _) => Err("the show has ended"),
            (_, ShowStatus::Scheduled) => Err("a show cannot go back to scheduled"),
        }
    }

    /// The seller, appointed moderators and the fair's organiser.
    pub fn is_moderator(&self, user: Uuid, seller_id: Option<Uuid>) -> bool {
        seller_id == Some(self.seller_id) || self.moderators.contains(&user) || self.organiser_id == Some(user)
    }

    pub fn lineup_code(&self, product: Uuid) -> Option<&str> {
        self.lineup.iter().find(|l| l.product_id == product).map(|l| l.code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ShowInput {
        ShowInput { title: "Mật ong mùa hoa".into(), ..Default::default() }
    }

    #[test]
    fn lineup_gets_codes_in_order() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let show = ShowInput { products: Some(vec![a, b]), ..input() }
            .validate(Uuid::nil(), Uuid::nil(), "t", &|_| true)
            .unwrap();
        assert_eq!(show.lineup.iter().map(|l| l.code.as_str()).collect::<Vec<_>>(), vec!["A1", "A2"]);
        assert_eq!(show.lineup_code(b), Some("A2"));
    }

    #[test]
    fn streams_are_checked_by_kind() {
        let s = |kind, url: Option<&str>| ShowInput {
            stream: Some(Stream { kind, url: url.map(String::from) }),
            ..input()
        };
        let ok = [
            s(StreamKind::None, None),
            s(StreamKind::Hls, Some("https://media.ocop.vn/live/honey.m3u8")),
            s(StreamKind::Hls, Some("https://media.ocop.vn/live/honey.m3u8?token=x")),
            s(StreamKind::Youtube, Some("https://www.youtube.com/watch?v=abc")),
            s(StreamKind::Youtube, Some("https://youtu.be/abc")),
            s(StreamKind::Facebook, Some("https://www.facebook.com/htx/videos/1")),
        ];
        for input in ok {
            assert!(input.validate(Uuid::nil(), Uuid::nil(), "t", &|_| true).is_ok(), "{:?}", input.stream);
        }
        let bad = [
            s(StreamKind::None, Some("https://x.vn")),
            s(StreamKind::Hls, None),
            s(StreamKind::Hls, Some("https://media.ocop.vn/live/honey.mp4")),
            s(StreamKind::Youtube, Some("https://evil.com/youtube.com")),
            s(StreamKind::Youtube, Some("https://notyoutube.com/x")),
            s(StreamKind::Facebook, Some("javascript:alert(1)")),
        ];
        for input in bad {
            let err = input.validate(Uuid::nil(), Uuid::nil(), "t", &|_| true).unwrap_err();
            assert!(err.0.contains_key("stream.url"), "{:?}", input.stream);
        }
    }

    #[test]
    fn lineup_must_be_own_distinct_products() {
        let a = Uuid::now_v7();
        let err = ShowInput { products: Some(vec![a, a, Uuid::nil()]), ..input() }
            .validate(Uuid::nil(), Uuid::nil(), "t", &|p| p == a)
            .unwrap_err();
        assert_eq!(err.0.keys().collect::<Vec<_>>(), vec!["products[1]", "products[2]"]);
    }

    #[test]
    fn state_machine() {
        let mut show = ShowInput {
            stream: Some(Stream { kind: StreamKind::Youtube, url: Some("https://youtu.be/x".into()) }),
            ..input()
        }
        .validate(Uuid::nil(), Uuid::nil(), "t0", &|_| true)
        .unwrap();
        assert!(show.transition(ShowStatus::Ended, "t").is_err());
        show.transition(ShowStatus::Live, "t1").unwrap();
        assert!(show.transition(ShowStatus::Live, "t").is_err());
        show.transition(ShowStatus::Ended, "t2").unwrap();
        assert_eq!(show.replay_url.as_deref(), Some("https://youtu.be/x"));
        assert!(show.transition(ShowStatus::Live, "t").is_err());
        assert!(show.transition(ShowStatus::Scheduled, "t").is_err());
    }
}
