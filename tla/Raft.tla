-------------------------------- MODULE Raft --------------------------------
(***************************************************************************)
(* paxlab's Raft as built in consensus/raft/ (docs/raft.md):              *)
(*                                                                         *)
(*  - Elections: a voter of its own configuration times out into a new    *)
(*    term and votes for itself; a server grants one vote per term, to a   *)
(*    candidate whose log is at least as up to date (last term, then      *)
(*    length); a candidate with votes from a quorum of its configuration  *)
(*    leads and appends the election no-op.                                *)
(*  - Log matching: AppendEntries carries the entry before the ones sent;  *)
(*    a follower whose log disagrees there refuses; a conflicting entry is *)
(*    truncated with everything after it; the follower's commit index goes *)
(*    to min(leader commit, last new entry).                               *)
(*  - Commit: the leader takes the largest index a quorum of its          *)
(*    configuration's voters holds (itself included), and commits it only  *)
(*    if that entry is of its own term (Figure 8 of the Raft paper).      *)
(*    OwnTermCommit = FALSE is the variant commit-old-term: that rule and  *)
(*    the election no-op are gone.                                         *)
(*  - Membership: single-server changes through the log; a configuration   *)
(*    entry takes effect as soon as it is in a server's log; a leader      *)
(*    proposes a change only when its previous one is committed and (the   *)
(*    2015 fix) an entry of its own term is committed.                     *)
(*    ConfigAfterOwnCommit = FALSE is the variant single-server-change-bug. *)
(*                                                                         *)
(* Abstractions (the model must stay small; see tla/README.md):          *)
(*  - Each request/response exchange is one atomic step (RequestVote with  *)
(*    its answer, AppendEntries with its answer): messages are neither    *)
(*    delayed nor duplicated. A leader sends one entry at a time, from the *)
(*    index the follower is known to match (see AppendEntries).            *)
(*  - PreVote, CheckQuorum and leases only stop elections or leaders that  *)
(*    this spec allows: any voter may time out at any time and any leader  *)
(*    or candidate may step down at any time (StepDown also stands for a   *)
(*    crash and restart: term, vote, log and commit index are durable).    *)
(*    So every behaviour of the implementation is one of the spec's, and   *)
(*    the log invariants below hold for the implementation a fortiori.     *)
(*    Lease exclusivity (strong reads) is not modelled here.               *)
(*  - Snapshots and learners are not modelled.                             *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS
    Servers,              \* every server, voters or not
    InitConfig,           \* the initial voters (a subset of Servers)
    Values,               \* client commands (model values)
    MaxTerm,              \* model bound: terms are 0..MaxTerm
    MaxLogLen,            \* model bound: log length
    MaxChanges,           \* model bound: configuration changes; 0 fixes the membership
    OwnTermCommit,        \* FALSE is the variant commit-old-term (the Figure 8 bug)
    ConfigAfterOwnCommit  \* FALSE is the variant single-server-change-bug (2015)

VARIABLES
    currentTerm,  \* durable
    votedFor,     \* durable: a server or "none"
    role,         \* "follower", "candidate" or "leader"
    log,          \* durable: a sequence of entries
    commitIndex,  \* durable (the applied index survives a restart)
    votes,        \* votes a candidate holds in its current term
    matchIndex,   \* leader: the highest index known replicated on each server
    changes,      \* model bound: configuration entries appended so far
    elected,      \* history: <<term, server>> of every election won
    committed     \* history: every entry a leader committed, with the term it did so in

vars == <<currentTerm, votedFor, role, log, commitIndex, votes, matchIndex, changes,
          elected, committed>>

Nil == "none"

Entry(t, k, c, m) == [term |-> t, kind |-> k, cmd |-> c, mem |-> m]
NoOp(t) == Entry(t, "noop", Nil, {})
Cmd(t, v) == Entry(t, "cmd", v, {})
CfgEntry(t, m) == Entry(t, "cfg", Nil, m)

Max(S) == CHOOSE x \in S : \A y \in S : y <= x
Min(a, b) == IF a < b THEN a ELSE b

LastTerm(l) == IF Len(l) = 0 THEN 0 ELSE l[Len(l)].term

(* Index of the last configuration entry of log l (0: none). *)
CfgIndex(l) ==
    LET idx == {k \in 1..Len(l) : l[k].kind = "cfg"}
    IN IF idx = {} THEN 0 ELSE Max(idx)

(* The voters server i follows: the last configuration in its log, committed or not. *)
Config(i) == IF CfgIndex(log[i]) = 0 THEN InitConfig ELSE log[i][CfgIndex(log[i])].mem

IsQuorum(S, cfg) == 2 * Cardinality(S \cap cfg) > Cardinality(cfg)

(* Candidate log lc is at least as up to date as voter log lv. *)
UpToDate(lc, lv) ==
    \/ LastTerm(lc) > LastTerm(lv)
    \/ LastTerm(lc) = LastTerm(lv) /\ Len(lc) >= Len(lv)

Init ==
    /\ currentTerm = [i \in Servers |-> 0]
    /\ votedFor = [i \in Servers |-> Nil]
    /\ role = [i \in Servers |-> "follower"]
    /\ log = [i \in Servers |-> <<>>]
    /\ commitIndex = [i \in Servers |-> 0]
    /\ votes = [i \in Servers |-> {}]
    /\ matchIndex = [i \in Servers |-> [j \in Servers |-> 0]]
    /\ changes = 0
    /\ elected = {}
    /\ committed = {}

(* A voter's election timer fires: new term, vote for itself. *)
Timeout(i) ==
    /\ role[i] /= "leader"
    /\ i \in Config(i)
    /\ currentTerm[i] < MaxTerm
    /\ currentTerm' = [currentTerm EXCEPT ![i] = @ + 1]
    /\ votedFor' = [votedFor EXCEPT ![i] = i]
    /\ role' = [role EXCEPT ![i] = "candidate"]
    /\ votes' = [votes EXCEPT ![i] = {i}]
    /\ UNCHANGED <<log, commitIndex, matchIndex, changes, elected, committed>>

(* Candidate i asks voter j of its configuration; j answers (one step). A higher term *)
(* makes j a follower of that term; it grants at most one vote per term, to an up to *)
(* date log. (A voter that is ahead of the candidate's term answers nothing useful.)   *)
RequestVote(i, j) ==
    /\ role[i] = "candidate"
    /\ j \in Config(i) \ {i}
    /\ j \notin votes[i]
    /\ currentTerm[j] <= currentTerm[i]
    /\ LET fresh == currentTerm[j] < currentTerm[i]
           vf == IF fresh THEN Nil ELSE votedFor[j]
           grant == vf \in {Nil, i} /\ UpToDate(log[i], log[j])
       IN /\ fresh \/ grant
          /\ currentTerm' = [currentTerm EXCEPT ![j] = currentTerm[i]]
          /\ role' = [role EXCEPT ![j] = IF fresh THEN "follower" ELSE @]
          /\ votedFor' = [votedFor EXCEPT ![j] = IF grant THEN i ELSE vf]
          /\ votes' = [votes EXCEPT ![i] = IF grant THEN @ \cup {j} ELSE @,
                                    ![j] = IF fresh THEN {} ELSE @]
    /\ UNCHANGED <<log, commitIndex, matchIndex, changes, elected, committed>>

(* A candidate with a quorum of its configuration leads; with the own-term rule it *)
(* appends the election no-op at once (model bound: if its log is full, it leads    *)
(* without one and cannot commit anything new).                                     *)
BecomeLeader(i) ==
    /\ role[i] = "candidate"
    /\ IsQuorum(votes[i], Config(i))
    /\ role' = [role EXCEPT ![i] = "leader"]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = [j \in Servers |-> 0]]
    /\ log' = IF OwnTermCommit /\ Len(log[i]) < MaxLogLen
              THEN [log EXCEPT ![i] = Append(@, NoOp(currentTerm[i]))]
              ELSE log
    /\ elected' = elected \cup {<<currentTerm[i], i>>}
    /\ UNCHANGED <<currentTerm, votedFor, commitIndex, votes, changes, committed>>

(* The leader appends a client command. *)
ClientRequest(i, v) ==
    /\ role[i] = "leader"
    /\ Len(log[i]) < MaxLogLen
    /\ log' = [log EXCEPT ![i] = Append(@, Cmd(currentTerm[i], v))]
    /\ UNCHANGED <<currentTerm, votedFor, role, commitIndex, votes, matchIndex, changes,
                   elected, committed>>

(* Leader i sends server j of its configuration the entry after index p (none if p is *)
(* its last), with prev = (p, term at p) and its commit index; j answers (one step).   *)
(* p is the index j is known to match (0 after an election): since an exchange is one *)
(* step, the refused tries of a nextIndex walking back change nothing and are left out, *)
(* and a follower that already holds the entry keeps its log, so sending from the     *)
(* match index reaches every log a walk from any nextIndex reaches.                    *)
AppendEntries(i, j) ==
    /\ role[i] = "leader"
    /\ j \in Config(i) \ {i}
    /\ currentTerm[j] <= currentTerm[i]
    /\ LET p == matchIndex[i][j]
           li == log[i]
           lj == log[j]
           fresh == currentTerm[j] < currentTerm[i]
           match == p = 0 \/ (p <= Len(lj) /\ lj[p].term = li[p].term)
           sent == IF p < Len(li) THEN <<li[p + 1]>> ELSE <<>>
           newLog == IF sent = <<>> \/ (Len(lj) > p /\ lj[p + 1].term = sent[1].term)
                     THEN lj
                     ELSE Append(SubSeq(lj, 1, p), sent[1])
           lastNew == p + Len(sent)
       IN /\ currentTerm' = [currentTerm EXCEPT ![j] = currentTerm[i]]
          /\ role' = [role EXCEPT ![j] = "follower"]
          /\ votedFor' = [votedFor EXCEPT ![j] = IF fresh THEN Nil ELSE @]
          /\ votes' = [votes EXCEPT ![j] = {}]
          /\ IF match
             THEN /\ log' = [log EXCEPT ![j] = newLog]
                  /\ commitIndex' = [commitIndex EXCEPT ![j] =
                         IF commitIndex[i] > @ THEN Min(commitIndex[i], lastNew) ELSE @]
                  /\ matchIndex' = [matchIndex EXCEPT ![i][j] =
                         IF lastNew > @ THEN lastNew ELSE @]
             ELSE UNCHANGED <<log, commitIndex, matchIndex>>
    /\ UNCHANGED <<changes, elected, committed>>

(* The largest index a quorum of i's configuration holds (i counts its whole log). *)
QuorumIndex(i) ==
    LET held(j) == IF j = i THEN Len(log[i]) ELSE matchIndex[i][j]
    IN Max({n \in 0..Len(log[i]) : IsQuorum({j \in Config(i) : held(j) >= n}, Config(i))})

(* The leader commits up to the quorum index, only if that entry is of its own term. *)
AdvanceCommit(i) ==
    /\ role[i] = "leader"
    /\ LET n == QuorumIndex(i)
       IN /\ n > commitIndex[i]
          /\ OwnTermCommit => log[i][n].term = currentTerm[i]
          /\ commitIndex' = [commitIndex EXCEPT ![i] = n]
          /\ committed' = committed \cup
                 {[idx |-> k, entry |-> log[i][k], by |-> currentTerm[i]] :
                      k \in (commitIndex[i] + 1)..n}
    /\ UNCHANGED <<currentTerm, votedFor, role, log, votes, matchIndex, changes, elected>>

(* Single-server change: add or remove server s (never the leader itself), once the *)
(* previous change is committed and (the 2015 fix) an entry of this term is.         *)
ChangeConfig(i, s) ==
    /\ role[i] = "leader"
    /\ changes < MaxChanges
    /\ s /= i
    /\ Len(log[i]) < MaxLogLen
    /\ CfgIndex(log[i]) <= commitIndex[i]
    /\ ConfigAfterOwnCommit =>
           commitIndex[i] > 0 /\ log[i][commitIndex[i]].term = currentTerm[i]
    /\ LET new == IF s \in Config(i) THEN Config(i) \ {s} ELSE Config(i) \cup {s}
       IN log' = [log EXCEPT ![i] = Append(@, CfgEntry(currentTerm[i], new))]
    /\ changes' = changes + 1
    /\ UNCHANGED <<currentTerm, votedFor, role, commitIndex, votes, matchIndex, elected,
                   committed>>

(* A leader or candidate stops (CheckQuorum, StepDown, a lost election, a restart). *)
StepDown(i) ==
    /\ role[i] /= "follower"
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ votes' = [votes EXCEPT ![i] = {}]
    /\ UNCHANGED <<currentTerm, votedFor, log, commitIndex, matchIndex, changes, elected,
                   committed>>

Next ==
    \/ \E i \in Servers : Timeout(i) \/ BecomeLeader(i) \/ AdvanceCommit(i) \/ StepDown(i)
    \/ \E i, j \in Servers : RequestVote(i, j)
    \/ \E i, j \in Servers : AppendEntries(i, j)
    \/ \E i \in Servers, v \in Values : ClientRequest(i, v)
    \/ \E i, s \in Servers : ChangeConfig(i, s)

Spec == Init /\ [][Next]_vars

(***************************************************************************)
(* Invariants (the properties of the Raft paper, Figure 3).               *)
(***************************************************************************)

Entries == [term : 0..MaxTerm, kind : {"noop", "cmd", "cfg"}, cmd : Values \cup {Nil},
            mem : SUBSET Servers]

TypeOK ==
    /\ currentTerm \in [Servers -> 0..MaxTerm]
    /\ votedFor \in [Servers -> Servers \cup {Nil}]
    /\ role \in [Servers -> {"follower", "candidate", "leader"}]
    /\ \A i \in Servers : log[i] \in Seq(Entries) /\ Len(log[i]) <= MaxLogLen
    /\ commitIndex \in [Servers -> 0..MaxLogLen]
    /\ votes \in [Servers -> SUBSET Servers]
    /\ matchIndex \in [Servers -> [Servers -> 0..MaxLogLen]]

(* At most one leader per term, over the whole behaviour. *)
ElectionSafety ==
    \A e1, e2 \in elected : e1[1] = e2[1] => e1[2] = e2[2]

(* Two logs with an entry of the same term at the same index agree up to it. *)
LogMatching ==
    \A i, j \in Servers : \A n \in 1..Min(Len(log[i]), Len(log[j])) :
        log[i][n].term = log[j][n].term =>
            SubSeq(log[i], 1, n) = SubSeq(log[j], 1, n)

(* An entry committed in term t is in the log of every leader of a later term. *)
LeaderCompleteness ==
    \A c \in committed, i \in Servers :
        role[i] = "leader" /\ currentTerm[i] > c.by =>
            Len(log[i]) >= c.idx /\ log[i][c.idx] = c.entry

(* Committed entries are never lost or changed: one entry per committed index, and   *)
(* every server holds, up to its commit index, exactly the committed entries.        *)
StateMachineSafety ==
    /\ \A c1, c2 \in committed : c1.idx = c2.idx => c1.entry = c2.entry
    /\ \A i \in Servers :
          /\ commitIndex[i] <= Len(log[i])
          /\ \A c \in committed : c.idx <= commitIndex[i] => log[i][c.idx] = c.entry
    /\ \A i, j \in Servers : \A n \in 1..Min(commitIndex[i], commitIndex[j]) :
          n <= Len(log[i]) /\ n <= Len(log[j]) => log[i][n] = log[j][n]

View == vars
=============================================================================
