//! TeamTurns: the round-robin counter of each team.

use super::SqliteStore;
use socialcare_domain::ports::{StoreError, TeamTurns};

impl TeamTurns for SqliteStore {
    async fn next_turn(&self, team: &str) -> Result<u64, StoreError> {
        let team = team.to_string();
        let turns: i64 = self
            .read(move |conn| {
                conn.query_row(
                    "INSERT INTO team_turns (team, turns) VALUES (?1, 1)
                     ON CONFLICT (team) DO UPDATE SET turns = turns + 1
                     RETURNING turns",
                    [team],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok((turns - 1).unsigned_abs())
    }
}
