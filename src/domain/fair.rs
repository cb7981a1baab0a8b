//! Virtual fairs ("Chợ OCOP online", PROTOCOL.md §3): the fair with its schedule and states,
//! booths, and the rules a show must meet to join a fair's agenda.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldErrors, long_text, optional_text, required_text};
use crate::clock::format_rfc3339;

/// The longest fair: a week-long fair is the usual, a season the most.
pub const MAX_FAIR_DAYS: i64 = 92;
/// Products a booth features at most.
pub const MAX_FEATURED: usize = 12;
/// A show's slot on the agenda when it does not say (`duration_min`).
pub const DEFAULT_SLOT_MIN: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FairStatus {
    /// Seen by its organiser and admins only.
    #[default]
    Draft,
    /// Announced; opens by itself at `opens_at`.
    Published,
    Open,
    Closed,
}

impl FairStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FairStatus::Draft => "draft",
            FairStatus::Published => "published",
            FairStatus::Open => "open",
            FairStatus::Closed => "closed",
        }
    }

    pub const ALL: [FairStatus; 4] = [FairStatus::Draft, FairStatus::Published, FairStatus::Open, FairStatus::Closed];
}

/// A fair as stored and as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Fair {
    pub id: Uuid,
    pub organiser_id: Uuid,
    #[schema(example = "Hội chợ OCOP trực tuyến Tuyên Quang 2026")]
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner_url: Option<String>,
    /// RFC 3339 UTC with milliseconds.
    pub opens_at: String,
    pub closes_at: String,
    pub status: FairStatus,
    /// The organiser's pinned announcement, the last one posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

/// `POST /api/fairs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FairInput {
    #[schema(schema_with = super::openapi::text::<120>)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<60>)]
    pub province: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<120>)]
    pub theme: Option<String>,
    /// An https URL of at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500, pattern = r#"^\s*(https://[^\s"'<>\x00-\x1f\x7f]+)?\s*$"#)]
    pub banner_url: Option<String>,
    /// RFC 3339; stored in UTC.
    #[schema(format = DateTime)]
    pub opens_at: String,
    /// RFC 3339, after `opens_at`, at most 92 days later.
    #[schema(format = DateTime)]
    pub closes_at: String,
}

/// `PATCH /api/fairs/{id}`: the fields to change. Times change only before the fair opens.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FairPatch {
    #[serde(default)]
    #[schema(schema_with = super::openapi::new_text::<120>)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<60>)]
    pub province: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<120>)]
    pub theme: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = r#"^\s*(https://[^\s"'<>\x00-\x1f\x7f]+)?\s*$"#)]
    pub banner_url: Option<String>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub opens_at: Option<String>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub closes_at: Option<String>,
}

/// Parses an RFC 3339 time into the protocol's form (UTC, milliseconds), recording a field
/// error when it is not one.
pub fn parse_time(errors: &mut FieldErrors, field: &str, value: &str) -> Option<(OffsetDateTime, String)> {
    match OffsetDateTime::parse(value.trim(), &Rfc3339) {
        Ok(t) => Some((t, format_rfc3339(t))),
        Err(_) => {
            errors.add(field, "must be an RFC 3339 time like 2026-12-01T19:00:00+07:00");
            None
        }
    }
}

/// Reads a time this server wrote.
pub fn stored_time(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

fn optional(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn check_banner(errors: &mut FieldErrors, value: Option<&str>) -> Option<String> {
    let url = value.map(str::trim).filter(|u| !u.is_empty())?;
    let clean = url.len() <= 500 && !url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>".contains(c));
    if !(clean && url.starts_with("https://") && url.len() > "https://".len()) {
        errors.add("banner_url", "must be an https URL of at most 500 characters");
        return None;
    }
    Some(url.to_owned())
}

/// The schedule rules: closes after it opens, within [`MAX_FAIR_DAYS`], and not in the past.
fn check_schedule(errors: &mut FieldErrors, opens: OffsetDateTime, closes: OffsetDateTime, now: OffsetDateTime) {
    if closes <= opens {
        errors.add("closes_at", "must be after opens_at");
    } else if closes - opens > time::Duration::days(MAX_FAIR_DAYS) {
        errors.add("closes_at", format!("a fair lasts at most {MAX_FAIR_DAYS} days"));
    } else if closes <= now {
        errors.add("closes_at", "must be in the future");
    }
}

impl FairInput {
    pub fn validate(&self, id: Uuid, organiser_id: Uuid, now: OffsetDateTime) -> Result<Fair, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = required_text(&mut errors, "name", &self.name, 120);
        let description = long_text(&mut errors, "description", self.description.as_deref(), 2000);
        let province = optional(optional_text(&mut errors, "province", self.province.as_deref(), 60));
        let theme = optional(optional_text(&mut errors, "theme", self.theme.as_deref(), 120));
        let banner_url = check_banner(&mut errors, self.banner_url.as_deref());
        let opens = parse_time(&mut errors, "opens_at", &self.opens_at);
        let closes = parse_time(&mut errors, "closes_at", &self.closes_at);
        if let (Some((o, _)), Some((c, _))) = (&opens, &closes) {
            check_schedule(&mut errors, *o, *c, now);
        }
        errors.into_result()?;
        let (Some((_, opens_at)), Some((_, closes_at))) = (opens, closes) else { unreachable!("checked above") };
        Ok(Fair {
            id,
            organiser_id,
            name,
            description,
            province,
            theme,
            banner_url,
            opens_at,
            closes_at,
            status: FairStatus::Draft,
            announcement: None,
            created_at: format_rfc3339(now),
            opened_at: None,
            closed_at: None,
        })
    }
}

impl FairPatch {
    /// Applies the changes to `fair`; times only while it has not opened.
    pub fn apply(&self, fair: &mut Fair, now: OffsetDateTime) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if let Some(name) = &self.name {
            fair.name = required_text(&mut errors, "name", name, 120);
        }
        if let Some(d) = &self.description {
            fair.description = long_text(&mut errors, "description", Some(d), 2000);
        }
        if let Some(p) = &self.province {
            fair.province = optional(optional_text(&mut errors, "province", Some(p), 60));
        }
        if let Some(t) = &self.theme {
            fair.theme = optional(optional_text(&mut errors, "theme", Some(t), 120));
        }
        if let Some(b) = &self.banner_url {
            fair.banner_url = check_banner(&mut errors, Some(b));
        }
        if self.opens_at.is_some() || self.closes_at.is_some() {
            if !matches!(fair.status, FairStatus::Draft | FairStatus::Published) {
                let field = if self.opens_at.is_some() { "opens_at" } else { "closes_at" };
                errors.add(field, "times change only before the fair opens");
                return Err(errors);
            }
            let opens = match &self.opens_at {
                Some(v) => parse_time(&mut errors, "opens_at", v),
                None => stored_time(&fair.opens_at).map(|t| (t, fair.opens_at.clone())),
            };
            let closes = match &self.closes_at {
                Some(v) => parse_time(&mut errors, "closes_at", v),
                None => stored_time(&fair.closes_at).map(|t| (t, fair.closes_at.clone())),
            };
            if let (Some((o, os)), Some((c, cs))) = (opens, closes) {
                check_schedule(&mut errors, o, c, now);
                fair.opens_at = os;
                fair.closes_at = cs;
            }
        }
        errors.into_result()
    }
}

impl Fair {
    /// The organiser's moves: `draft → published` (and straight on to `open` when its time has
    /// come), and an early close of a published or open fair.
    pub fn publish(&mut self, now: OffsetDateTime) -> Result<(), &'static str> {
        match self.status {
            FairStatus::Draft => {
                if stored_time(&self.closes_at).is_some_and(|c| c <= now) {
                    return Err("the fair's closing time has passed; change closes_at first");
                }
                self.status = FairStatus::Published;
                self.open_if_due(now);
                Ok(())
            }
            FairStatus::Published | FairStatus::Open => Err("the fair is already published"),
            FairStatus::Closed => Err("the fair has closed"),
        }
    }

    pub fn close(&mut self, now: OffsetDateTime) -> Result<(), &'static str> {
        match self.status {
            FairStatus::Published | FairStatus::Open => {
                self.status = FairStatus::Closed;
                self.closed_at = Some(format_rfc3339(now));
                Ok(())
            }
            FairStatus::Draft => Err("a draft is not published; there is nothing to close"),
            FairStatus::Closed => Err("the fair has already closed"),
        }
    }

    /// What the schedule does at `now`: a published fair opens at `opens_at`, an open one closes
    /// at `closes_at` (a published one whose whole time passed closes at once). True when it
    /// changed.
    pub fn follow_schedule(&mut self, now: OffsetDateTime) -> bool {
        let before = self.status;
        self.open_if_due(now);
        if self.status == FairStatus::Open && stored_time(&self.closes_at).is_some_and(|c| c <= now) {
            self.status = FairStatus::Closed;
            self.closed_at = Some(format_rfc3339(now));
        }
        self.status != before
    }

    fn open_if_due(&mut self, now: OffsetDateTime) {
        if self.status == FairStatus::Published && stored_time(&self.opens_at).is_some_and(|o| o <= now) {
            self.status = FairStatus::Open;
            self.opened_at = Some(format_rfc3339(now));
        }
    }

    /// Who sees a draft: its organiser and admins.
    pub fn visible_to(&self, user: Option<&crate::auth::User>) -> bool {
        self.status != FairStatus::Draft
            || user.is_some_and(|u| u.role == crate::auth::Role::Admin || u.id == self.organiser_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoothStatus {
    #[default]
    Pending,
    Approved,
    Rejected,
}

impl BoothStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BoothStatus::Pending => "pending",
            BoothStatus::Approved => "approved",
            BoothStatus::Rejected => "rejected",
        }
    }
}

/// A producer's booth in a fair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Booth {
    pub id: Uuid,
    pub fair_id: Uuid,
    pub seller_id: Uuid,
    /// The account that acts for the seller (its chat messages are the seller's answers).
    pub seller_user_id: Uuid,
    pub seller_name: String,
    pub province: String,
    pub title: String,
    pub description: String,
    pub featured_products: Vec<Uuid>,
    pub status: BoothStatus,
    /// Whether the booth's seller is in the booth now (on any node); filled in when read.
    #[serde(default)]
    pub seller_online: bool,
    /// Seconds a visitor waits between Q&A messages; 0 is off.
    #[serde(default)]
    pub slow_mode_s: u32,
    pub created_at: String,
}

/// `POST /api/fairs/{id}/booths`: a seller applies, or the organiser adds a seller's booth.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothInput {
    /// The organiser only: the seller whose booth this is (approved at once).
    #[serde(default)]
    pub seller_id: Option<Uuid>,
    /// Default: the seller's name.
    #[serde(default)]
    #[schema(schema_with = super::openapi::new_text::<120>)]
    pub title: Option<String>,
    /// Default: the seller's introduction.
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub description: Option<String>,
    /// At most 12 of the seller's own products, each once.
    #[serde(default)]
    #[schema(max_items = 12)]
    pub featured_products: Option<Vec<Uuid>>,
}

/// `PATCH /api/booths/{id}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothPatch {
    #[serde(default)]
    #[schema(schema_with = super::openapi::new_text::<120>)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(max_items = 12)]
    pub featured_products: Option<Vec<Uuid>>,
}

/// Checks a featured list: at most [`MAX_FEATURED`], each once, each the seller's (`owns`).
pub fn check_featured(errors: &mut FieldErrors, products: &[Uuid], owns: &dyn Fn(Uuid) -> bool) {
    if products.len() > MAX_FEATURED {
        errors.add("featured_products", format!("at most {MAX_FEATURED} products"));
        return;
    }
    for (i, p) in products.iter().enumerate() {
        if products[..i].contains(p) {
            errors.add(format!("featured_products[{i}]"), "listed twice");
        } else if !owns(*p) {
            errors.add(format!("featured_products[{i}]"), "not one of the seller's products");
        }
    }
}

/// The booth's texts from `title` and `description`, defaulting to the seller's.
pub fn booth_texts(
    errors: &mut FieldErrors,
    title: Option<&str>,
    description: Option<&str>,
    seller_name: &str,
    seller_intro: &str,
) -> (String, String) {
    let title = match title {
        Some(t) => required_text(errors, "title", t, 120),
        None => seller_name.chars().take(120).collect(),
    };
    let description = match description {
        Some(d) => long_text(errors, "description", Some(d), 2000),
        None => seller_intro.to_owned(),
    };
    (title, description)
}

/// Why a show cannot take a slot on a fair's agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgendaRule {
    /// 400: `fair_id` without `scheduled_at`.
    NeedsTime,
    /// 409: the seller has no approved booth in the fair.
    NoApprovedBooth,
    /// 409: the fair is closed (or still a draft).
    FairNotOpenForShows(&'static str),
    /// 400: the slot does not lie within the fair's opening hours.
    OutsideHours { opens_at: String, closes_at: String },
    /// 409: the slot overlaps another show of the same seller.
    Overlaps { show_id: Uuid, scheduled_at: String },
}

impl AgendaRule {
    pub fn message(&self) -> String {
        match self {
            AgendaRule::NeedsTime => "a show joins a fair's agenda with scheduled_at".into(),
            AgendaRule::NoApprovedBooth => {
                "only a seller with an approved booth in the fair may add a show to its agenda".into()
            }
            AgendaRule::FairNotOpenForShows(why) => (*why).into(),
            AgendaRule::OutsideHours { opens_at, closes_at } => {
                format!("the show's slot must lie within the fair's opening hours, {opens_at} to {closes_at}")
            }
            AgendaRule::Overlaps { show_id, scheduled_at } => {
                format!("the slot overlaps your show {show_id} at {scheduled_at}")
            }
        }
    }
}

/// A show's slot: from `scheduled_at`, `duration_min` long.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl Slot {
    pub fn new(start: OffsetDateTime, duration_min: u32) -> Self {
        Self { start, end: start + time::Duration::minutes(i64::from(duration_min)) }
    }

    pub fn overlaps(&self, other: &Slot) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The agenda's rules for a slot in `fair`: the fair takes shows, and the slot lies within its
/// hours. (The booth and the overlap need storage; the service checks them.)
pub fn check_slot(fair: &Fair, slot: &Slot) -> Result<(), AgendaRule> {
    match fair.status {
        FairStatus::Draft => return Err(AgendaRule::FairNotOpenForShows("the fair is not published yet")),
        FairStatus::Closed => return Err(AgendaRule::FairNotOpenForShows("the fair has closed")),
        FairStatus::Published | FairStatus::Open => {}
    }
    let (Some(opens), Some(closes)) = (stored_time(&fair.opens_at), stored_time(&fair.closes_at)) else {
        return Err(AgendaRule::FairNotOpenForShows("the fair's schedule cannot be read"));
    };
    if slot.start < opens || slot.end > closes {
        return Err(AgendaRule::OutsideHours { opens_at: fair.opens_at.clone(), closes_at: fair.closes_at.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn input(opens: &str, closes: &str) -> FairInput {
        FairInput {
            name: "Chợ OCOP Tuyên Quang".into(),
            opens_at: opens.into(),
            closes_at: closes.into(),
            ..Default::default()
        }
    }

    #[test]
    fn times_are_stored_in_utc_with_milliseconds_and_the_schedule_is_checked() {
        let fair = input("2026-12-05T08:00:00+07:00", "2026-12-12T22:00:00+07:00")
            .validate(Uuid::nil(), Uuid::nil(), NOW)
            .unwrap();
        assert_eq!(fair.opens_at, "2026-12-05T01:00:00.000Z");
        assert_eq!(fair.closes_at, "2026-12-12T15:00:00.000Z");
        assert_eq!(fair.status, FairStatus::Draft);
        let err = |o: &str, c: &str| input(o, c).validate(Uuid::nil(), Uuid::nil(), NOW).unwrap_err().0;
        assert_eq!(err("2026-12-05T08:00:00Z", "2026-12-05T08:00:00Z")["closes_at"], "must be after opens_at");
        assert!(err("2026-12-05T08:00:00Z", "2027-06-05T08:00:00Z")["closes_at"].contains("92 days"));
        assert_eq!(err("2026-11-01T08:00:00Z", "2026-11-02T08:00:00Z")["closes_at"], "must be in the future");
        assert!(err("ngày mai", "2026-11-02T08:00:00Z").contains_key("opens_at"));
        let bad_banner = FairInput {
            banner_url: Some("javascript:alert(1)".into()),
            ..input("2026-12-05T08:00:00Z", "2026-12-06T08:00:00Z")
        };
        assert!(bad_banner.validate(Uuid::nil(), Uuid::nil(), NOW).unwrap_err().0.contains_key("banner_url"));
    }

    #[test]
    fn a_fair_is_published_then_opens_and_closes_by_its_schedule_once() {
        let mut fair =
            input("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z").validate(Uuid::nil(), Uuid::nil(), NOW).unwrap();
        assert!(!fair.follow_schedule(datetime!(2026-12-01 14:00 UTC)), "a draft never opens by itself");
        assert!(fair.close(NOW).is_err());
        fair.publish(NOW).unwrap();
        assert_eq!(fair.status, FairStatus::Published);
        assert!(fair.publish(NOW).is_err());
        assert!(!fair.follow_schedule(datetime!(2026-12-01 12:59:59 UTC)));
        assert!(fair.follow_schedule(datetime!(2026-12-01 13:00 UTC)));
        assert_eq!(fair.status, FairStatus::Open);
        assert!(!fair.follow_schedule(datetime!(2026-12-01 13:00 UTC)), "once");
        assert!(fair.follow_schedule(datetime!(2026-12-01 15:00 UTC)));
        assert_eq!(fair.status, FairStatus::Closed);
        assert!(fair.close(NOW).is_err());
    }

    #[test]
    fn a_fair_published_after_its_opening_time_opens_at_once() {
        let mut fair =
            input("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z").validate(Uuid::nil(), Uuid::nil(), NOW).unwrap();
        fair.publish(datetime!(2026-12-01 13:30 UTC)).unwrap();
        assert_eq!(fair.status, FairStatus::Open);
        assert_eq!(fair.opened_at.as_deref(), Some("2026-12-01T13:30:00.000Z"));
        let mut late =
            input("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z").validate(Uuid::nil(), Uuid::nil(), NOW).unwrap();
        assert!(late.publish(datetime!(2026-12-01 16:00 UTC)).is_err(), "its time has passed");
    }

    #[test]
    fn times_change_only_before_opening() {
        let mut fair =
            input("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z").validate(Uuid::nil(), Uuid::nil(), NOW).unwrap();
        let later = FairPatch { closes_at: Some("2026-12-01T18:00:00Z".into()), ..Default::default() };
        later.apply(&mut fair, NOW).unwrap();
        assert_eq!(fair.closes_at, "2026-12-01T18:00:00.000Z");
        let before_open = FairPatch { closes_at: Some("2026-12-01T12:30:00Z".into()), ..Default::default() };
        assert_eq!(before_open.apply(&mut fair.clone(), NOW).unwrap_err().0["closes_at"], "must be after opens_at");
        fair.publish(datetime!(2026-12-01 13:30 UTC)).unwrap();
        assert!(later.apply(&mut fair, NOW).unwrap_err().0["closes_at"].contains("before the fair opens"));
        FairPatch { name: Some("Chợ phiên".into()), ..Default::default() }.apply(&mut fair, NOW).unwrap();
        assert_eq!(fair.name, "Chợ phiên");
    }

    #[test]
    fn a_slot_lies_within_the_fair_and_overlaps_are_found() {
        let mut fair =
            input("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z").validate(Uuid::nil(), Uuid::nil(), NOW).unwrap();
        let slot = Slot::new(datetime!(2026-12-01 13:00 UTC), 60);
        assert_eq!(check_slot(&fair, &slot), Err(AgendaRule::FairNotOpenForShows("the fair is not published yet")));
        fair.publish(NOW).unwrap();
        assert_eq!(check_slot(&fair, &slot), Ok(()));
        assert!(matches!(
            check_slot(&fair, &Slot::new(datetime!(2026-12-01 14:30 UTC), 60)),
            Err(AgendaRule::OutsideHours { .. })
        ));
        assert!(matches!(
            check_slot(&fair, &Slot::new(datetime!(2026-12-01 12:59 UTC), 30)),
            Err(AgendaRule::OutsideHours { .. })
        ));
        let next = Slot::new(datetime!(2026-12-01 14:00 UTC), 60);
        assert!(!slot.overlaps(&next), "back to back");
        assert!(slot.overlaps(&Slot::new(datetime!(2026-12-01 13:59 UTC), 60)));
    }

    #[test]
    fn featured_products_are_the_sellers_own_and_distinct() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut errors = FieldErrors::new();
        check_featured(&mut errors, &[a, a, b], &|p| p == a);
        assert_eq!(errors.0.keys().collect::<Vec<_>>(), vec!["featured_products[1]", "featured_products[2]"]);
        let mut errors = FieldErrors::new();
        check_featured(&mut errors, &vec![a; 13], &|_| true);
        assert!(errors.0.contains_key("featured_products"));
    }
}
