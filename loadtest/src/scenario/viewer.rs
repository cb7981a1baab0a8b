//! A show viewer that follows the channel's offsets: every event kept in
//! history carries `off`, and per channel they must arrive in increasing order
//! with no gaps, from the offset the subscribe reply gave.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::publisher::{self, LiteFrame};
use crate::client::WsStream;

/// What a viewer has seen of the channel.
#[derive(Debug, Clone, Default)]
pub struct ViewerState {
    /// The last offset received (or given by the subscribe reply).
    pub last_off: u64,
    pub epoch: String,
    /// Chat messages of this run received.
    pub chats: u64,
    /// Offsets skipped (events missing).
    pub gaps: u64,
    /// Events whose offset was not above the last one (repeated or out of order).
    pub repeats: u64,
}

impl ViewerState {
    /// Starts from a subscribe reply's `data`.
    pub fn from_reply(data: &serde_json::Value) -> Self {
        Self {
            last_off: data["off"].as_u64().unwrap_or(0),
            epoch: data["epoch"].as_str().unwrap_or_default().to_owned(),
            ..Self::default()
        }
    }

    /// Accounts for one event offset.
    pub fn offset(&mut self, off: u64) {
        if off == self.last_off + 1 {
        } else if off > self.last_off {
            self.gaps += off - self.last_off - 1;
        } else {
            self.repeats += 1;
        }
        self.last_off = self.last_off.max(off);
    }
}

/// Why [`follow`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The signal turned true.
    Signalled,
    /// The connection ended; the reason.
    Dropped(String),
}

/// Reads events until `signal` turns true or the connection ends, updating `state`; calls
/// `on_chat` with the latency of every chat message of run `tag`.
pub async fn follow(
    ws: &mut WsStream,
    state: &mut ViewerState,
    tag: &str,
    signal: &mut watch::Receiver<bool>,
    mut on_chat: impl FnMut(Duration),
) -> Ended {
    loop {
        let msg = tokio::select! {
            biased;
            () = super::signalled(signal) => return Ended::Signalled,
            msg = ws.next() => msg,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                return Ended::Dropped(f.map_or_else(
                    || "closed by server".to_owned(),
                    |f| format!("closed by server ({})", u16::from(f.code)),
                ));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Ended::Dropped(format!("read error: {e}")),
            None => return Ended::Dropped("connection ended".to_owned()),
        };
        let Ok(frame) = serde_json::from_str::<LiteFrame<'_>>(text.as_str()) else { continue };
        if let Some(off) = frame.off {
            state.offset(off);
        }
        if frame.ev.as_deref() == Some("chat")
            && let Some((sent_us, _)) =
                frame.data.and_then(|d| d.text).and_then(|t| publisher::parse_chat_text(&t, tag))
        {
            state.chats += 1;
            on_chat(Duration::from_micros(super::unix_micros().saturating_sub(sent_us)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ViewerState;

    #[test]
    fn offsets_count_gaps_and_repeats() {
        let mut s = ViewerState::from_reply(&serde_json::json!({ "off": 10, "epoch": "e1" }));
        assert_eq!((s.last_off, s.epoch.as_str()), (10, "e1"));
        s.offset(11);
        s.offset(12);
        assert_eq!((s.gaps, s.repeats), (0, 0));
        s.offset(15);
        assert_eq!(s.gaps, 2);
        s.offset(15);
        s.offset(13);
        assert_eq!((s.gaps, s.repeats, s.last_off), (2, 2, 15));
    }
}
