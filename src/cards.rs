//! The card library a run sees: the cards built into the binary (`theorems/*.toml`, embedded at
//! build time, so an installed `mirrorflow` works from any directory) plus the user's own cards
//! (`--cards DIR`). An id that appears in both is bad input naming both files.

use crate::checks;
use crate::claims::Card;
use crate::error::{InputError, InputResult};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_cards.rs"));

/// The source name of a built-in card in messages: `theorems/<file>` (built in).
fn builtin_source(name: &str) -> String {
    format!("theorems/{name} (built in)")
}

/// The built-in cards, parsed and validated, sorted by id.
pub fn builtin() -> InputResult<Vec<Card>> {
    let mut cards = Vec::with_capacity(BUILTIN.len());
    for (name, text) in BUILTIN {
        let card = Card::parse(&builtin_source(name), text)?;
        checks::validate_card(&card)?;
        cards.push(card);
    }
    cards.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cards)
}

/// The built-in cards plus every card of `user` (if given), sorted by id. A user card whose id is
/// a built-in card's, or two user cards with one id, are bad input naming both files.
pub fn library(user: Option<&Path>) -> InputResult<Vec<Card>> {
    let mut cards = builtin()?;
    if let Some(dir) = user {
        for card in checks::load_cards(dir)? {
            if let Some(other) = cards.iter().find(|c| c.id == card.id) {
                return Err(InputError::new(
                    &card.source,
                    format!("card id '{}' is also the id of {} (give your card another id)", card.id, other.source),
                ));
            }
            cards.push(card);
        }
        cards.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(cards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_cards_are_the_repository_cards() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("theorems");
        let from_files = checks::load_cards(&dir).unwrap();
        let built_in = builtin().unwrap();
        let ids = |c: &[Card]| c.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&built_in), ids(&from_files));
        assert!(built_in.iter().all(|c| c.source.ends_with("(built in)")));
    }
}
