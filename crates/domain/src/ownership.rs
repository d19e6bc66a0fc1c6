//! Who owns a ticket: assignment to an agent or a team, round-robin within a team, and the
//! sticky owner a returning customer gets back.

use crate::access::{ApiKey, Role};
use crate::events::{Actor, EventKind, TicketEvent};
use crate::ids::TicketId;
use crate::lifecycle::CommandError;
use crate::ports::{ApiKeyStore, CommitError, IngestStore, StoreError, TeamTurns, TicketCommands};
use crate::retry::{Round, optimistic};
use crate::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A team of agents tickets can be assigned to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: String,
    /// Agents by the names of their API keys, in round-robin order.
    pub members: Vec<String>,
    /// Who a breached ticket is reassigned to.
    #[serde(default)]
    pub lead: Option<String>,
    /// Where the team's warnings and breaches are POSTed (a Slack-style incoming webhook or an
    /// integrator's URL).
    #[serde(default)]
    pub escalation_url: Option<String>,
    /// The next level: a breach of a ticket the lead already owns goes to this team's lead.
    #[serde(default)]
    pub escalates_to: Option<String>,
}

/// The teams of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teams(Vec<Team>);

impl Teams {
    pub fn new(teams: Vec<Team>) -> Self {
        Self(teams)
    }

    /// Every team, in the configured order.
    pub fn iter(&self) -> impl Iterator<Item = &Team> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Team> {
        self.0.iter().find(|team| team.name == name)
    }

    /// The first team the agent is a member of.
    pub fn of_member(&self, agent: &str) -> Option<&Team> {
        self.0
            .iter()
            .find(|team| team.members.iter().any(|m| m == agent))
    }
}

/// The agents who can own tickets now: holders of unrevoked keys with the agent role or more.
pub fn active_agents(keys: &[ApiKey]) -> HashSet<String> {
    keys.iter()
        .filter(|key| key.revoked_at.is_none() && key.role >= Role::Agent)
        .map(|key| key.name.clone())
        .collect()
}

/// The next active member of `team` in round-robin order, if any is active.
pub async fn next_member<S: TeamTurns>(
    store: &S,
    team: &Team,
    active: &HashSet<String>,
) -> Result<Option<String>, StoreError> {
    if !team.members.iter().any(|member| active.contains(member)) {
        return Ok(None);
    }
    // Each try takes a turn, so concurrent picks spread over the members.
    for _ in 0..team.members.len() {
        let turn = store.next_turn(&team.name).await?;
        let member = &team.members[(turn % team.members.len() as u64) as usize];
        if active.contains(member) {
            return Ok(Some(member.clone()));
        }
    }
    Ok(None)
}

/// What an assignment asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    pub agent: Option<String>,
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    #[error("{0} is not an active agent")]
    UnknownAgent(String),
    #[error("there is no team {0}")]
    UnknownTeam(String),
    #[error("no member of team {0} is active")]
    NobodyActive(String),
    #[error("name an agent, a team, or both")]
    Empty,
    #[error(transparent)]
    Command(#[from] CommandError),
}

impl From<StoreError> for AssignError {
    fn from(e: StoreError) -> Self {
        AssignError::Command(CommandError::Store(e))
    }
}

/// Assigns a ticket to an agent (who must be active), or to a team (whose next active member,
/// round-robin, becomes the owner), or to both.
pub async fn assign<S: IngestStore + TicketCommands + TeamTurns + ApiKeyStore>(
    store: &S,
    id: &TicketId,
    request: &Assignment,
    teams: &Teams,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket, AssignError> {
    if store.get_ticket(id).await?.is_none() {
        return Err(CommandError::NotFound(id.clone()).into());
    }
    let active = active_agents(&store.list_keys().await?);
    let (owner, team) = match (&request.agent, &request.team) {
        (None, None) => return Err(AssignError::Empty),
        (Some(agent), team) => {
            if !active.contains(agent) {
                return Err(AssignError::UnknownAgent(agent.clone()));
            }
            let team = match team {
                Some(name) => Some(
                    teams
                        .get(name)
                        .ok_or_else(|| AssignError::UnknownTeam(name.clone()))?
                        .name
                        .clone(),
                ),
                None => teams.of_member(agent).map(|t| t.name.clone()),
            };
            (agent.clone(), team)
        }
        (None, Some(name)) => {
            let team = teams
                .get(name)
                .ok_or_else(|| AssignError::UnknownTeam(name.clone()))?;
            let owner = next_member(store, team, &active)
                .await?
                .ok_or_else(|| AssignError::NobodyActive(name.clone()))?;
            (owner, Some(team.name.clone()))
        }
    };
    give(store, id, Some(owner), team, actor, now).await
}

/// Gives a ticket back to the queue: no owner, no team (an agent hands it on).
pub async fn unassign<S: IngestStore + TicketCommands>(
    store: &S,
    id: &TicketId,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket, AssignError> {
    give(store, id, None, None, actor, now).await
}

/// Writes the ticket's owner and team (unless it has them already) with their event.
async fn give<S: IngestStore + TicketCommands>(
    store: &S,
    id: &TicketId,
    owner: Option<String>,
    team: Option<String>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Ticket, AssignError> {
    let (owner, team, actor) = (&owner, &team, &actor);
    optimistic(
        move || async move {
            let ticket = store
                .get_ticket(id)
                .await?
                .ok_or_else(|| CommandError::NotFound(id.clone()))?;
            if &ticket.owner == owner && &ticket.team == team {
                return Ok(Round::Done(ticket));
            }
            let assigned = Ticket {
                owner: owner.clone(),
                team: team.clone(),
                version: ticket.version + 1,
                ..ticket.clone()
            };
            let event = TicketEvent::new(
                id.clone(),
                now,
                actor.clone(),
                EventKind::Assigned {
                    owner: owner.clone(),
                    team: team.clone(),
                },
                &format!("assigned:{}", assigned.version),
            );
            match store.change_ticket(&assigned, ticket.version, &event).await {
                Ok(()) => Ok(Round::Done(assigned)),
                Err(CommitError::Conflict) | Err(CommitError::Duplicate) => Ok(Round::ReadAgain),
                Err(CommitError::Store(e)) => Err(e.into()),
            }
        },
        || CommandError::Contention.into(),
    )
    .await
}
