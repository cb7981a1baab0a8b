//! The organiser's figures of a fair: visitors now and at the peak, shows live and their
//! viewers, orders and revenue of the fair's shows broken down by booth, province, OCOP group
//! and stars, booth visits (unique visitors, time spent), inquiries, and a series sampled once
//! a minute for the control room's charts.
//!
//! Keys: `{f:<fair>}:visitors` (unique lobby visitors), `{f:<fair>}:booth:<id>:visitors` and
//! `…:seconds` (a booth's unique visitors and the seconds connections spent in it),
//! `{f:<fair>}:series` (index of `<time>|<visitors>|<orders>|<revenue>`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FairError, Fairs, booth_key};
use crate::auth::User;
use crate::domain::fair::{BoothStatus, FairStatus};
use crate::domain::show::ShowStatus;
use crate::realtime::channel::{Channel, ChannelKind};

/// How long visit records outlive a fair.
const VISITS_TTL: Duration = Duration::from_secs(180 * 24 * 3600);
/// Samples of the series one answer carries at most (a day at one a minute).
const SERIES_LIMIT: usize = 1440;

fn series_key(fair: Uuid) -> String {
    format!("{{f:{fair}}}:series")
}
pub(super) fn lobby_visitors(fair: Uuid) -> String {
    format!("{{f:{fair}}}:visitors")
}
pub(super) fn booth_visitors(fair: Uuid, booth: Uuid) -> String {
    format!("{}:visitors", booth_key(fair, booth))
}
pub(super) fn booth_seconds(fair: Uuid, booth: Uuid) -> String {
    format!("{}:seconds", booth_key(fair, booth))
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ShowViewers {
    pub show_id: Uuid,
    pub title: String,
    pub viewers: u64,
}

/// Sales of one group of shows' products.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Breakdown {
    /// The booth's id, the province, the OCOP group or the stars.
    pub key: String,
    pub orders: i64,
    pub units: i64,
    pub revenue: i64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BoothFigures {
    pub booth_id: Uuid,
    pub seller_id: Uuid,
    pub title: String,
    pub seller_name: String,
    pub province: String,
    pub shows: u64,
    pub orders: i64,
    pub units: i64,
    pub revenue: i64,
    pub unique_visitors: u64,
    /// Seconds connections spent in the booth, summed.
    pub time_spent_s: i64,
    pub inquiries: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sample {
    pub at: String,
    pub visitors: u64,
    pub orders: i64,
    pub revenue: i64,
}

/// `GET /api/fairs/{id}/stats` and `/report`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FairStats {
    pub fair_id: Uuid,
    /// When the figures were taken.
    pub at: String,
    /// Connections in the lobby now (all nodes), the most at once, and distinct visitors.
    pub visitors: u64,
    pub peak_visitors: u64,
    pub unique_visitors: u64,
    pub shows_live: u64,
    pub shows: u64,
    pub viewers_by_show: Vec<ShowViewers>,
    /// Orders not cancelled of the fair's shows, their units and revenue (VND).
    pub orders: i64,
    pub units: i64,
    pub revenue: i64,
    pub inquiries: u64,
    pub by_booth: Vec<BoothFigures>,
    pub by_province: Vec<Breakdown>,
    pub by_group: Vec<Breakdown>,
    pub by_stars: Vec<Breakdown>,
    /// Once a minute while the fair is open: visitors, orders and revenue so far.
    pub series: Vec<Sample>,
}

fn add(into: &mut BTreeMap<String, Breakdown>, key: &str, orders: i64, units: i64, revenue: i64) {
    let b = into.entry(key.to_owned()).or_insert_with(|| Breakdown { key: key.to_owned(), ..Default::default() });
    b.orders += orders;
    b.units += units;
    b.revenue += revenue;
}

impl Fairs {
    /// The figures of the fair as they stand; its organiser (and admins).
    pub async fn stats(&self, user: &User, fair: Uuid) -> Result<FairStats, FairError> {
        self.organised(fair, user).await?;
        self.figures(fair, true).await
    }

    /// The figures, with the series when `series`.
    pub(super) async fn figures(&self, fair: Uuid, series: bool) -> Result<FairStats, FairError> {
        let (visitors, peak_visitors) = self.visitors(fair).await?;
        let state = &self.engine.state;
        let mut stats = FairStats {
            fair_id: fair,
            at: self.clock.rfc3339(),
            visitors,
            peak_visitors,
            unique_visitors: state.set_len(&lobby_visitors(fair)).await?,
            ..Default::default()
        };
        let booths = self.booths_of(fair, Some(BoothStatus::Approved)).await?;
        let inquiries = self.fair_inquiries_unchecked(fair).await?;
        stats.inquiries = inquiries.len() as u64;
        let mut by_booth: HashMap<Uuid, BoothFigures> = HashMap::new();
        for b in &booths {
            let seconds = state.get(&booth_seconds(fair, b.id)).await?;
            let seconds = seconds.as_ref().and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse().ok());
            by_booth.insert(
                b.seller_id,
                BoothFigures {
                    booth_id: b.id,
                    seller_id: b.seller_id,
                    title: b.title.clone(),
                    seller_name: b.seller_name.clone(),
                    province: b.province.clone(),
                    unique_visitors: state.set_len(&booth_visitors(fair, b.id)).await?,
                    time_spent_s: seconds.unwrap_or(0),
                    inquiries: inquiries.iter().filter(|i| i.booth_id == b.id).count() as u64,
                    ..Default::default()
                },
            );
        }
        let (mut by_province, mut by_group, mut by_stars) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for show in self.agenda(fair).await? {
            stats.shows += 1;
            if show.status == ShowStatus::Live {
                stats.shows_live += 1;
                let channel = Channel::new(ChannelKind::Show, show.id).to_string();
                let viewers = self.engine.presence.count(&channel).await?;
                stats.viewers_by_show.push(ShowViewers { show_id: show.id, title: show.title.clone(), viewers });
            }
            let summary = self.shows.summary_of(&show).await?;
            stats.orders += summary.orders;
            stats.units += summary.units;
            stats.revenue += summary.revenue;
            let booth = by_booth.get_mut(&show.seller_id);
            let province = booth.as_ref().map(|b| b.province.clone()).unwrap_or_default();
            if let Some(b) = booth {
                b.shows += 1;
                b.orders += summary.orders;
                b.units += summary.units;
                b.revenue += summary.revenue;
            }
            add(&mut by_province, &province, summary.orders, summary.units, summary.revenue);
            for line in &summary.products {
                let Ok(record) = self.catalog.record(line.id).await else { continue };
                let group = serde_json::to_value(record.group).ok().and_then(|g| g.as_str().map(str::to_owned));
                add(&mut by_group, &group.unwrap_or_default(), line.orders, line.units, line.revenue);
                add(&mut by_stars, &record.stars.to_string(), line.orders, line.units, line.revenue);
            }
        }
        let mut by_booth: Vec<BoothFigures> = by_booth.into_values().collect();
        by_booth.sort_by(|a, b| b.revenue.cmp(&a.revenue).then(a.title.cmp(&b.title)));
        stats.by_booth = by_booth;
        stats.by_province = by_province.into_values().collect();
        stats.by_group = by_group.into_values().collect();
        stats.by_stars = by_stars.into_values().collect();
        if series {
            let since = crate::clock::format_rfc3339(self.clock.now() - time::Duration::days(1));
            for entry in state.index_range(&series_key(fair), Some(&since), SERIES_LIMIT).await? {
                let mut parts = entry.split('|');
                let (Some(at), Some(v), Some(o), Some(r)) = (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let (Ok(visitors), Ok(orders), Ok(revenue)) = (v.parse(), o.parse(), r.parse()) else { continue };
                stats.series.push(Sample { at: at.to_owned(), visitors, orders, revenue });
            }
        }
        Ok(stats)
    }

    /// Appends a sample of every open fair's visitors, orders and revenue to its series (the
    /// scheduler, once a minute, on the node that holds its lease).
    pub async fn sample(&self) -> Result<(), FairError> {
        for fair in self.list(Some(FairStatus::Open), None).await? {
            let figures = self.figures(fair.id, false).await?;
            let entry = format!("{}|{}|{}|{}", figures.at, figures.visitors, figures.orders, figures.revenue);
            self.engine.state.index_add(&series_key(fair.id), &entry).await?;
        }
        Ok(())
    }

    /// Records a visitor of a lobby or a booth for the unique counts (stored on the next tick).
    pub fn visited(&self, channel: &Channel, viewer: String) {
        let mut t = self.ticks.lock().unwrap();
        t.visits.entry(*channel).or_default().insert(viewer);
    }

    /// Stores the visits gathered since the last call, and every `flush_seconds` the seconds
    /// spent in booths.
    pub(super) async fn flush_visits(&self, booths: &[(Uuid, u64)], flush_seconds: bool) -> Result<(), FairError> {
        let (visits, seconds) = {
            let mut t = self.ticks.lock().unwrap();
            for (booth, n) in booths {
                *t.booth_seconds.entry(*booth).or_default() += *n as i64;
            }
            let seconds = if flush_seconds { std::mem::take(&mut t.booth_seconds) } else { HashMap::new() };
            (std::mem::take(&mut t.visits), seconds)
        };
        for (channel, viewers) in visits {
            let key = match channel.kind {
                ChannelKind::Fair => lobby_visitors(channel.id),
                ChannelKind::Booth => match self.booth_fair(channel.id).await? {
                    Some(fair) => booth_visitors(fair, channel.id),
                    None => continue,
                },
                _ => continue,
            };
            let members: Vec<String> = viewers.into_iter().collect();
            self.engine.state.set_add(&key, &members, Some(VISITS_TTL)).await?;
        }
        for (booth, s) in seconds.into_iter().filter(|(_, s)| *s > 0) {
            if let Some(fair) = self.booth_fair(booth).await? {
                self.engine.state.incr_by(&booth_seconds(fair, booth), s).await?;
            }
        }
        Ok(())
    }

    /// The fair of a booth, cached while it has local subscribers.
    async fn booth_fair(&self, booth: Uuid) -> Result<Option<Uuid>, FairError> {
        if let Some((fair, _)) = self.ticks.lock().unwrap().booth_sellers.get(&booth) {
            return Ok(Some(*fair));
        }
        match self.load_booth(booth).await {
            Ok((_, b)) => Ok(Some(b.fair_id)),
            Err(FairError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
