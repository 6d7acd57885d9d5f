------------------------------- MODULE Paxlab -------------------------------
(***************************************************************************)
(* paxlab's replication protocol (DESIGN.md section 2, consensus/):        *)
(*                                                                         *)
(*  - Multi-Paxos with ballots. A candidate runs phase 1 once for the log  *)
(*    suffix after its commit index (Prepare/Promise); promises carry the  *)
(*    accepted entries and the lease the acceptor granted; the new leader  *)
(*    re-proposes the highest-ballot entry per slot under its own ballot,  *)
(*    no-ops for gaps, and serves nothing until that suffix is committed.  *)
(*    Phase 2 per slot (Accept/Accepted); a slot commits when a quorum of  *)
(*    the leader's configuration accepted it.                              *)
(*  - Leader leases, "elect then wait": acceptors grant a lease on every   *)
(*    heartbeat round; a leader serves while a quorum's grants cover it;   *)
(*    a new leader waits out the largest remaining grant its promise       *)
(*    quorum reported, scaled by the drift bound.                          *)
(*  - Roles: storage replicas (may lead, serve) and log replicas (vote in  *)
(*    phases 1 and 2, never lead or serve).                                *)
(*  - Membership through the log: a configuration entry takes effect in a  *)
(*    node's log as soon as it is there (not when committed); one change   *)
(*    at a time; add a log replica, remove a dead storage replica.         *)
(*                                                                         *)
(* Time: one global tick `now` (true time). Each node measures durations   *)
(* on its own clock, off by at most DriftTicks from true time over a lease *)
(* length. Rather than branch on every clock error, the spec takes, for    *)
(* each measurement, the extreme that is worst for S6 and reads: the old   *)
(* leader's lease lasts as long as it can in true time (L - D after its    *)
(* stamp, where L - 2D is its local lease length), an acceptor's grant and *)
(* reported remainder are as short as they can be (L - D after receipt),   *)
(* and a new leader's wait is as short as it can be (W - D for a local     *)
(* wait W). Serving windows only grow and waits only shrink with these     *)
(* choices, so S6 under them implies S6 under every drift within bound.    *)
(*                                                                         *)
(* Messages are never removed from `msgs`: loss, duplication and         *)
(* reordering come for free. A lease round (heartbeat, grant, echo) is one *)
(* step at the leader's stamp time, the worst case for the grants.         *)
(*                                                                         *)
(* Action names follow the implementation so that a simulator trace can   *)
(* name them: Prepare, Promise, BecomeLeader, Propose, Accept, Commit,     *)
(* LearnCommit, Heartbeat, ReplyWrite, StepDown, Release, Tick, Crash,     *)
(* Restart, AddLogReplica, RemoveReplica (SwapReplica: the known bug).     *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Storage,      \* storage replicas: the initial configuration
    Spares,       \* nodes that may join as log replicas (never lead)
    Values,       \* client commands (model values)
    MaxBallot,    \* ballots are 1..MaxBallot, each started at most once
    MaxSlot,      \* log slots are 1..MaxSlot
    LeaseTicks,   \* L: lease an acceptor grants, in its own ticks; 0 turns leases and time off
    DriftTicks,   \* D: the most a node's measurement of a duration up to L may be off
    MaxCrashes,   \* model bound: crashes over the whole behaviour
    Restarts,     \* FALSE: a crashed node stays dead (a replica that failed for good)
    MaxChanges,   \* model bound: configuration changes; 0 fixes the membership
    LeaseWait,    \* FALSE is the bug "lease not waited out" (variant no-lease-wait)
    DriftScaled,  \* FALSE is the bug "wait not scaled by the drift bound"
    OneStepSwap,  \* TRUE allows the bug "swap a dead storage replica for a log replica"
    StepDowns,    \* TRUE lets a leader step down on purpose and release its lease
    RestartGrant, \* FALSE is the bug "a restarted acceptor forgets the lease it granted"
    CatchUp,      \* TRUE models catch-up: a replica copies a peer's next committed entry
    CatchUpPromise \* FALSE is the bug "catch-up stores an entry above the promise"

ASSUME /\ Storage # {} /\ Storage \cap Spares = {}
       /\ MaxBallot \in Nat \ {0} /\ MaxSlot \in Nat \ {0}
       /\ LeaseTicks \in Nat /\ DriftTicks \in Nat
       /\ (LeaseTicks > 0 => LeaseTicks > 2 * DriftTicks)
       /\ MaxCrashes \in Nat /\ Restarts \in BOOLEAN /\ MaxChanges \in Nat
       /\ LeaseWait \in BOOLEAN /\ DriftScaled \in BOOLEAN /\ OneStepSwap \in BOOLEAN
       /\ StepDowns \in BOOLEAN /\ RestartGrant \in BOOLEAN
       /\ CatchUp \in BOOLEAN /\ CatchUpPromise \in BOOLEAN

Nodes == Storage \cup Spares
Ballots == 1..MaxBallot
Slots == 1..MaxSlot
Leases == LeaseTicks > 0
GrantTicks == LeaseTicks - DriftTicks   \* true length of a grant, and of the lease it backs

Max(a, b) == IF a >= b THEN a ELSE b
MaxOf(S) == CHOOSE x \in S : \A y \in S : y <= x

(* Log values: a client command, a no-op gap filler, or a new configuration. *)
Cmd(v) == [kind |-> "cmd", cmd |-> v, mem |-> {}]
NoopVal == [kind |-> "noop", cmd |-> "none", mem |-> {}]
CfgVal(M) == [kind |-> "cfg", cmd |-> "none", mem |-> M]
LogValues == {Cmd(v) : v \in Values} \cup {NoopVal} \cup {CfgVal(M) : M \in SUBSET Nodes}
Empty == [bal |-> 0, val |-> NoopVal]   \* a slot with nothing accepted

(* A configuration is its member set; quorums are majorities of it. *)
IsQuorum(Q, M) == 2 * Cardinality(Q \cap M) > Cardinality(M)
QuorumsIntersect(M1, M2) ==
    \A Q1 \in SUBSET M1, Q2 \in SUBSET M2 :
        (IsQuorum(Q1, M1) /\ IsQuorum(Q2, M2)) => Q1 \cap Q2 # {}

(* A node's configuration: the latest configuration entry in its log, committed or not. *)
CfgSlots(log) == {s \in Slots : log[s].bal > 0 /\ log[s].val.kind = "cfg"}
CfgOf(log) == IF CfgSlots(log) = {} THEN Storage ELSE log[MaxOf(CfgSlots(log))].val.mem

IsLogReplica(n) == n \in Spares

NoLeader == [bal |-> 0, next |-> 1, recovery |-> 0, leaseEnd |-> 0, waitUntil |-> 0]

VARIABLES
    now,          \* true time in ticks (constant 0 when leases are off)
    up,           \* up[n]: FALSE while crashed
    role,         \* "follower", "candidate" or "leader" (volatile)
    promised,     \* highest ballot promised, 0: none (durable)
    accepted,     \* accepted[n][s]: [bal, val] accepted in slot s, bal 0: none (durable)
    commitIndex,  \* every slot <= it is known chosen (durable hint)
    ldr,          \* candidate/leader state: ballot, next slot, recovered suffix end, lease
    grant,        \* grant[n]: [bal, end] the lease n granted (bal 0: unknown, after restart)
    msgs,         \* every message ever sent
    acked,        \* history: highest slot a serving leader acknowledged to a client
    committed,    \* history: <<slot, value>> for every commit any node made
    cfgChanges,   \* history: <<old members, new members>> of every change proposed
    crashes,      \* model bound counter
    changes       \* model bound counter

vars == <<now, up, role, promised, accepted, commitIndex, ldr, grant, msgs, acked,
          committed, cfgChanges, crashes, changes>>

-----------------------------------------------------------------------------
(* Derived state *)

Cfg(n) == CfgOf(accepted[n])

(* n answers writes and strong reads: leader, recovered suffix committed (S5), *)
(* predecessors' leases waited out, own lease valid.                          *)
Serving(n) ==
    /\ up[n] /\ role[n] = "leader"
    /\ commitIndex[n] >= ldr[n].recovery
    /\ now >= ldr[n].waitUntil
    /\ now < ldr[n].leaseEnd

(* What acceptor a reports, on promising ballot b, as the lease it granted still running. *)
Remaining(a, b) == IF grant[a].bal = b \/ grant[a].end <= now THEN 0 ELSE grant[a].end - now

PromiseMsg(a, b, from) ==
    [type |-> "promise", src |-> a, bal |-> b,
     entries |-> {[slot |-> s, bal |-> accepted[a][s].bal, val |-> accepted[a][s].val] :
                    s \in {t \in Slots : t >= from /\ accepted[a][t].bal > 0}},
     rem |-> Remaining(a, b)]

AcceptMsg(b, s, v) == [type |-> "accept", bal |-> b, slot |-> s, val |-> v]
AcceptedMsg(a, b, s) == [type |-> "accepted", src |-> a, bal |-> b, slot |-> s]

(* How long (true ticks) a new leader waits, given the largest reported remainder R: *)
(* it waits W = R + 2D on its own clock, which may be as short as W - D in truth.    *)
WaitTicks(R) ==
    IF ~LeaseWait THEN 0
    ELSE IF DriftScaled THEN R + DriftTicks
    ELSE Max(0, R - DriftTicks)

(* Node a saw ballot b in a message it accepted: a leader or candidate of a lower *)
(* ballot steps down (its leader state is gone).                                   *)
Demoted(a, b) == role[a] # "follower" /\ b > ldr[a].bal
SeeBallot(a, b) ==
    IF Demoted(a, b)
    THEN /\ role' = [role EXCEPT ![a] = "follower"]
         /\ ldr' = [ldr EXCEPT ![a] = NoLeader]
    ELSE UNCHANGED <<role, ldr>>

-----------------------------------------------------------------------------
(* Initial state *)

Init ==
    /\ now = 0
    /\ up = [n \in Nodes |-> TRUE]
    /\ role = [n \in Nodes |-> "follower"]
    /\ promised = [n \in Nodes |-> 0]
    /\ accepted = [n \in Nodes |-> [s \in Slots |-> Empty]]
    /\ commitIndex = [n \in Nodes |-> 0]
    /\ ldr = [n \in Nodes |-> NoLeader]
    /\ grant = [n \in Nodes |-> [bal |-> 0, end |-> 0]]
    /\ msgs = {}
    /\ acked = 0
    /\ committed = {}
    /\ cfgChanges = {}
    /\ crashes = 0
    /\ changes = 0

-----------------------------------------------------------------------------
(* Phase 1 *)

(* A storage replica that is a member of its own configuration campaigns under *)
(* a fresh ballot for every slot after its commit index; it promises itself.   *)
Prepare(n, b) ==
    /\ up[n] /\ n \in Storage /\ role[n] # "leader"
    /\ n \in Cfg(n)
    /\ b > promised[n]
    /\ ~\E m \in msgs : m.type = "prepare" /\ m.bal = b
    /\ LET from == commitIndex[n] + 1 IN
       /\ promised' = [promised EXCEPT ![n] = b]
       /\ role' = [role EXCEPT ![n] = "candidate"]
       /\ ldr' = [ldr EXCEPT ![n] = [NoLeader EXCEPT !.bal = b]]
       /\ msgs' = msgs \cup {[type |-> "prepare", bal |-> b, from |-> from],
                             PromiseMsg(n, b, from)}
    /\ UNCHANGED <<now, up, accepted, commitIndex, grant, acked, committed, cfgChanges,
                   crashes, changes>>

(* Acceptor a promises a higher ballot: its accepted entries from the prepared slot *)
(* on, and how long the lease it granted to another ballot still runs.              *)
Promise(a) ==
    \E m \in msgs :
        /\ m.type = "prepare" /\ up[a]
        /\ m.bal > promised[a]
        /\ promised' = [promised EXCEPT ![a] = m.bal]
        /\ SeeBallot(a, m.bal)
        /\ msgs' = msgs \cup {PromiseMsg(a, m.bal, m.from)}
        /\ UNCHANGED <<now, up, accepted, commitIndex, grant, acked, committed, cfgChanges,
                       crashes, changes>>

(* The candidate holds promises from a quorum of its configuration and of the  *)
(* configuration its recovered log ends with. It adopts the highest-ballot      *)
(* entry per slot (no-op for gaps), re-proposes them under its ballot, and      *)
(* waits out the largest lease its promisers reported.                          *)
BecomeLeader(n) ==
    /\ up[n] /\ role[n] = "candidate"
    /\ LET b == ldr[n].bal
           from == (CHOOSE m \in msgs : m.type = "prepare" /\ m.bal = b).from
           P == {m \in msgs : m.type = "promise" /\ m.bal = b}
           Q == {m.src : m \in P}
           ents == UNION {m.entries : m \in P}
           last == MaxOf({from - 1} \cup {e.slot : e \in ents})
           Best(s) == LET es == {e \in ents : e.slot = s} IN
                      IF es = {} THEN NoopVal
                      ELSE (CHOOSE e \in es : \A f \in es : f.bal <= e.bal).val
           newLog == [s \in Slots |->
                        IF s >= from /\ s <= last THEN [bal |-> b, val |-> Best(s)]
                        ELSE accepted[n][s]]
           rem == MaxOf({m.rem : m \in P})
       IN
       /\ n \in Q
       /\ IsQuorum(Q, Cfg(n))
       /\ IsQuorum(Q, CfgOf(newLog))
       /\ role' = [role EXCEPT ![n] = "leader"]
       /\ ldr' = [ldr EXCEPT ![n] = [bal |-> b, next |-> last + 1, recovery |-> last,
                                     leaseEnd |-> 0, waitUntil |-> now + WaitTicks(rem)]]
       /\ accepted' = [accepted EXCEPT ![n] = newLog]
       /\ grant' = IF Leases THEN [grant EXCEPT ![n] = [bal |-> b, end |-> now + GrantTicks]]
                   ELSE grant
       /\ msgs' = msgs \cup {AcceptMsg(b, s, Best(s)) : s \in from..last}
                       \cup {AcceptedMsg(n, b, s) : s \in from..last}
    /\ UNCHANGED <<now, up, promised, commitIndex, acked, committed, cfgChanges, crashes,
                   changes>>

-----------------------------------------------------------------------------
(* Phase 2 *)

(* The leader puts value v in its next free slot and accepts it itself. *)
ProposeValue(n, v) ==
    /\ up[n] /\ role[n] = "leader"
    /\ ldr[n].next <= MaxSlot
    /\ LET b == ldr[n].bal
           s == ldr[n].next
       IN
       /\ accepted' = [accepted EXCEPT ![n][s] = [bal |-> b, val |-> v]]
       /\ ldr' = [ldr EXCEPT ![n].next = s + 1]
       /\ msgs' = msgs \cup {AcceptMsg(b, s, v), AcceptedMsg(n, b, s)}

(* A client command, proposed once over the whole behaviour (clients do not retry). *)
Propose(n, v) ==
    /\ ~\E m \in msgs : m.type = "accept" /\ m.val = Cmd(v)
    /\ ProposeValue(n, Cmd(v))
    /\ UNCHANGED <<now, up, role, promised, commitIndex, grant, acked, committed, cfgChanges,
                   crashes, changes>>

(* Acceptor a accepts an entry under a ballot at least its promise, durably, and says so. *)
Accept(a) ==
    \E m \in msgs :
        /\ m.type = "accept" /\ up[a]
        /\ m.bal >= promised[a]
        /\ accepted[a][m.slot] # [bal |-> m.bal, val |-> m.val]
        /\ promised' = [promised EXCEPT ![a] = m.bal]
        /\ accepted' = [accepted EXCEPT ![a][m.slot] = [bal |-> m.bal, val |-> m.val]]
        /\ SeeBallot(a, m.bal)
        /\ msgs' = msgs \cup {AcceptedMsg(a, m.bal, m.slot)}
        /\ UNCHANGED <<now, up, commitIndex, grant, acked, committed, cfgChanges, crashes,
                       changes>>

(* The leader learns its next slot chosen: a quorum of its configuration accepted *)
(* it under its ballot. It advertises the new commit index.                      *)
Commit(n) ==
    /\ up[n] /\ role[n] = "leader"
    /\ LET b == ldr[n].bal
           s == commitIndex[n] + 1
           Q == {m.src : m \in {x \in msgs : x.type = "accepted" /\ x.bal = b /\ x.slot = s}}
       IN
       /\ s < ldr[n].next
       /\ IsQuorum(Q, Cfg(n))
       /\ commitIndex' = [commitIndex EXCEPT ![n] = s]
       /\ committed' = committed \cup {<<s, accepted[n][s].val>>}
       /\ msgs' = msgs \cup {[type |-> "commit", bal |-> b, idx |-> s]}
    /\ UNCHANGED <<now, up, role, promised, accepted, ldr, grant, acked, cfgChanges, crashes,
                   changes>>

(* A replica advances its commit index over the entries it accepted under the   *)
(* ballot of the leader that reported them chosen (an older entry or a gap stops *)
(* it: it would need catch-up, not modelled).                                     *)
LearnCommit(a) ==
    \E m \in msgs :
        /\ m.type = "commit" /\ up[a]
        /\ m.idx > commitIndex[a]
        /\ accepted[a][commitIndex[a] + 1].bal = m.bal
        /\ LET ok == {i \in commitIndex[a] + 1..m.idx :
                        \A s \in commitIndex[a] + 1..i : accepted[a][s].bal = m.bal}
               top == MaxOf(ok)
           IN
           /\ commitIndex' = [commitIndex EXCEPT ![a] = top]
           /\ committed' = committed \cup
                             {<<s, accepted[a][s].val>> : s \in commitIndex[a] + 1..top}
        /\ UNCHANGED <<now, up, role, promised, accepted, ldr, grant, msgs, acked, cfgChanges,
                       crashes, changes>>

-----------------------------------------------------------------------------
(* Leases and time *)

(* A heartbeat round: leader n stamps it now and the acceptors in Q (a quorum of   *)
(* its configuration, itself included, each with a promise <= its ballot) receive  *)
(* it at once, promise the ballot, grant a lease from now and echo the stamp; the  *)
(* leader's lease then runs to now + L - D (true time, its clock at worst slow).    *)
(* Receipt at the stamp is the worst case for the grants; a later receipt or echo  *)
(* only lengthens what acceptors report, and a round without a quorum of echoes    *)
(* changes the leader's lease not at all.                                          *)
Heartbeat(n, Q) ==
    /\ Leases /\ up[n] /\ role[n] = "leader"
    /\ n \in Q /\ Q \subseteq Cfg(n) /\ IsQuorum(Q, Cfg(n))
    /\ ldr[n].leaseEnd < now + GrantTicks
    /\ LET b == ldr[n].bal IN
       /\ \A a \in Q : up[a] /\ promised[a] <= b
       /\ promised' = [a \in Nodes |-> IF a \in Q THEN b ELSE promised[a]]
       /\ grant' = [a \in Nodes |-> IF a \in Q THEN [bal |-> b, end |-> now + GrantTicks]
                                   ELSE grant[a]]
       /\ role' = [a \in Nodes |-> IF a \in Q /\ Demoted(a, b) THEN "follower" ELSE role[a]]
       /\ ldr' = [a \in Nodes |->
                    IF a = n THEN [ldr[n] EXCEPT !.leaseEnd = now + GrantTicks]
                    ELSE IF a \in Q /\ Demoted(a, b) THEN NoLeader ELSE ldr[a]]
    /\ UNCHANGED <<now, up, accepted, commitIndex, msgs, acked, committed, cfgChanges,
                   crashes, changes>>

(* A serving leader acknowledges every write it has committed. *)
ReplyWrite(n) ==
    /\ Serving(n)
    /\ commitIndex[n] > acked
    /\ acked' = commitIndex[n]
    /\ UNCHANGED <<now, up, role, promised, accepted, commitIndex, ldr, grant, msgs,
                   committed, cfgChanges, crashes, changes>>

(* A leader steps down on purpose: it ends the lease it granted itself and asks *)
(* the acceptors to release theirs, so its successor need not wait.              *)
StepDown(n) ==
    /\ StepDowns /\ Leases /\ up[n] /\ role[n] = "leader"
    /\ role' = [role EXCEPT ![n] = "follower"]
    /\ ldr' = [ldr EXCEPT ![n] = NoLeader]
    /\ grant' = IF grant[n].bal = ldr[n].bal
                THEN [grant EXCEPT ![n].end = IF @ > now THEN now ELSE @]
                ELSE grant
    /\ msgs' = msgs \cup {[type |-> "release", bal |-> ldr[n].bal]}
    /\ UNCHANGED <<now, up, promised, accepted, commitIndex, acked, committed, cfgChanges,
                   crashes, changes>>

Release(a) ==
    \E m \in msgs :
        /\ m.type = "release" /\ up[a]
        /\ grant[a].bal = m.bal /\ grant[a].end > now
        /\ grant' = [grant EXCEPT ![a].end = now]
        /\ UNCHANGED <<now, up, role, promised, accepted, commitIndex, ldr, msgs, acked,
                       committed, cfgChanges, crashes, changes>>

(* One global tick of true time. *)
Tick ==
    /\ Leases
    /\ now' = now + 1
    /\ UNCHANGED <<up, role, promised, accepted, commitIndex, ldr, grant, msgs, acked,
                   committed, cfgChanges, crashes, changes>>

(* Catch-up (enabled by CatchUp): a replica takes its next slot from a peer that  *)
(* committed it, with the peer's ballot, and commits it. It first promises that    *)
(* ballot, so a late Accept of an older ballot is refused (the bug                 *)
(* CatchUpPromise = FALSE keeps the older promise: such an Accept then rewrites    *)
(* the committed slot). An entry it holds at a higher ballot is the chosen value:  *)
(* it is kept.                                                                     *)
TakeCatchUp(a, p) ==
    /\ CatchUp /\ up[a] /\ up[p] /\ role[a] = "follower"
    /\ commitIndex[a] < commitIndex[p]
    /\ LET s == commitIndex[a] + 1
           e == accepted[p][s]
       IN
       /\ accepted' = IF accepted[a][s].bal < e.bal
                      THEN [accepted EXCEPT ![a][s] = e] ELSE accepted
       /\ promised' = IF CatchUpPromise THEN [promised EXCEPT ![a] = Max(@, e.bal)]
                      ELSE promised
       /\ commitIndex' = [commitIndex EXCEPT ![a] = s]
    /\ UNCHANGED <<now, up, role, ldr, grant, msgs, acked, committed, cfgChanges, crashes,
                   changes>>

-----------------------------------------------------------------------------
(* Faults *)

(* A crash loses volatile state (role, leader state, lease bookkeeping). *)
Crash(n) ==
    /\ up[n] /\ crashes < MaxCrashes
    /\ up' = [up EXCEPT ![n] = FALSE]
    /\ role' = [role EXCEPT ![n] = "follower"]
    /\ ldr' = [ldr EXCEPT ![n] = NoLeader]
    /\ crashes' = crashes + 1
    /\ UNCHANGED <<now, promised, accepted, commitIndex, grant, msgs, acked, committed,
                   cfgChanges, changes>>

(* A restarted acceptor does not know what lease it granted: it assumes a full one *)
(* (the bug RestartGrant = FALSE: it assumes none).                                *)
Restart(n) ==
    /\ Restarts /\ ~up[n]
    /\ up' = [up EXCEPT ![n] = TRUE]
    /\ grant' = IF Leases /\ RestartGrant
                THEN [grant EXCEPT ![n] = [bal |-> 0, end |-> now + GrantTicks]]
                ELSE [grant EXCEPT ![n] = [bal |-> 0, end |-> 0]]
    /\ UNCHANGED <<now, role, promised, accepted, commitIndex, ldr, msgs, acked, committed,
                   cfgChanges, crashes, changes>>

-----------------------------------------------------------------------------
(* Membership *)

(* A leader changes the configuration only with its whole log committed (so the  *)
(* previous change is committed: one at a time) and an entry of its own ballot    *)
(* among the committed ones.                                                      *)
CanChange(n) ==
    /\ up[n] /\ role[n] = "leader"
    /\ changes < MaxChanges
    /\ ldr[n].next <= MaxSlot
    /\ commitIndex[n] = ldr[n].next - 1
    /\ \E s \in 1..commitIndex[n] : accepted[n][s].bal = ldr[n].bal

ProposeConfig(n, M) ==
    /\ ProposeValue(n, CfgVal(M))
    /\ cfgChanges' = cfgChanges \cup {<<Cfg(n), M>>}
    /\ changes' = changes + 1
    /\ UNCHANGED <<now, up, role, promised, commitIndex, grant, acked, committed, crashes>>

(* Add a spare as a log replica: it votes from now on, never leads. *)
AddLogReplica(n, r) ==
    /\ CanChange(n)
    /\ r \in Spares \ Cfg(n)
    /\ ProposeConfig(n, Cfg(n) \cup {r})

(* Remove a dead storage replica, once a log replica made up for it (add before remove). *)
RemoveReplica(n, d) ==
    /\ CanChange(n)
    /\ d \in (Cfg(n) \cap Storage) \ {n} /\ ~up[d]
    /\ Cardinality(Cfg(n)) > Cardinality(Storage)
    /\ ProposeConfig(n, Cfg(n) \ {d})

(* The known-unsafe shortcut: replace a dead storage replica by a log replica in one change. *)
SwapReplica(n, d, r) ==
    /\ OneStepSwap
    /\ CanChange(n)
    /\ d \in Cfg(n) \ {n} /\ ~up[d]
    /\ r \in Spares \ Cfg(n)
    /\ ProposeConfig(n, (Cfg(n) \ {d}) \cup {r})

-----------------------------------------------------------------------------
Next ==
    \/ \E n \in Nodes, b \in Ballots : Prepare(n, b)
    \/ \E n \in Nodes : Promise(n) \/ BecomeLeader(n) \/ Accept(n) \/ Commit(n)
                        \/ LearnCommit(n) \/ ReplyWrite(n) \/ StepDown(n)
                        \/ Release(n) \/ Crash(n) \/ Restart(n)
    \/ \E n \in Nodes, v \in Values : Propose(n, v)
    \/ \E n \in Nodes, Q \in SUBSET Nodes : Heartbeat(n, Q)
    \/ \E n, d \in Nodes : RemoveReplica(n, d)
    \/ \E n \in Nodes, r \in Spares : AddLogReplica(n, r)
    \/ \E n, d \in Nodes, r \in Spares : SwapReplica(n, d, r)
    \/ \E a, p \in Nodes : TakeCatchUp(a, p)
    \/ Tick

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants, named as in DESIGN.md *)

TypeOK ==
    /\ now \in Nat
    /\ up \in [Nodes -> BOOLEAN]
    /\ role \in [Nodes -> {"follower", "candidate", "leader"}]
    /\ promised \in [Nodes -> 0..MaxBallot]
    /\ accepted \in [Nodes -> [Slots -> [bal : 0..MaxBallot, val : LogValues]]]
    /\ commitIndex \in [Nodes -> 0..MaxSlot]
    /\ acked \in 0..MaxSlot

(* S1 agreement: no two commits of one slot carry different values. *)
S1 == \A e, f \in committed : e[1] = f[1] => e[2] = f[2]

(* S3 promises never go backwards, also across restart (an action property). *)
S3 == [][\A n \in Nodes : promised'[n] >= promised[n]]_vars

(* S6 at most one replica serving under a lease at any true time. *)
S6 == \A n, m \in Nodes : Serving(n) /\ Serving(m) => n = m

(* S12 every configuration change keeps the old and new quorums intersecting. *)
S12 == \A c \in cfgChanges : QuorumsIntersect(c[1], c[2])

(* S13 log replicas never lead or serve reads. *)
S13 == \A n \in Nodes : IsLogReplica(n) => role[n] # "leader" /\ ~Serving(n)

(* S15 a replica's durable log agrees with the chosen log at and below its commit *)
(* index, and no accepted ballot exceeds its promise.                             *)
S15 == \A n \in Nodes :
         /\ \A s \in Slots : accepted[n][s].bal <= promised[n]
         /\ \A s \in 1..commitIndex[n] : <<s, accepted[n][s].val>> \in committed

(* A strong read is served from the serving leader's committed state at any moment *)
(* it serves; it must reflect every write acknowledged before it.                    *)
LinearizableReads == \A n \in Nodes : Serving(n) => commitIndex[n] >= acked

-----------------------------------------------------------------------------
(* The state up to the passage of time: every tick is replaced by how far ahead *)
(* of now it lies (0: passed). Guards compare ticks only with now, so two states  *)
(* with one view have the same futures; with it TLC needs no bound on time.       *)
Ahead(t) == IF t > now THEN t - now ELSE 0
View ==
    <<up, role, promised, accepted, commitIndex,
      [n \in Nodes |-> [ldr[n] EXCEPT !.leaseEnd = Ahead(@), !.waitUntil = Ahead(@)]],
      [n \in Nodes |-> [grant[n] EXCEPT !.end = Ahead(@)]],
      msgs, acked, committed, cfgChanges, crashes, changes>>
=============================================================================
