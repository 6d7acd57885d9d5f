-------------------------------- MODULE Trace --------------------------------
(***************************************************************************)
(* Trace validation of a simulator run (after Cirstea et al.,              *)
(* "Validating Traces of Distributed Programs Against TLA+ Specifications"). *)
(*                                                                         *)
(* TraceData (generated from `paxlab run --trace-ndjson FILE` by           *)
(* harness.tla.tracevalid.tladata, never committed) defines TraceNodes,        *)
(* TraceCfg, LeaseUs and TraceLog, the sequence of the trace's lines after *)
(* its Init line, each a record with every field (absent ones defaulted).  *)
(*                                                                         *)
(* The behaviour below reads line i and takes the action of Paxlab.tla it  *)
(* names, with the state abstraction of that spec (promised, accepted      *)
(* entries, commit index, role, own ballot, leases granted, the messages   *)
(* sent as the sets sentPromises/proposed/votes, and what was chosen).     *)
(* The guards are the spec's: if line i is not an allowed step from the    *)
(* state the lines before it built, no action is enabled and TLC reports a *)
(* deadlock at i (the trace is rejected); once every line is consumed the  *)
(* behaviour stutters in Done (accepted).                                  *)
(*                                                                         *)
(* Beyond Paxlab.tla: ballots are numbers round * Len(TraceNodes) + node;  *)
(* times are the implementation's microseconds (true t, local lt), and the *)
(* lease arithmetic is the implementation's (LeaseLenUs, WaitNum/WaitDen   *)
(* from the drift bound); Compact and CatchUp (snapshots and catch-up, not *)
(* in the spec) only take chosen values.                                    *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, TraceData

Nodes == TraceNodes
None == -1

IsQuorum(Q) == 2 * Cardinality(Q \cap TraceCfg) > Cardinality(TraceCfg)
Max(a, b) == IF a >= b THEN a ELSE b
MaxOf(S) == CHOOSE x \in S : \A y \in S : y <= x

VARIABLES
    i,             \* the next line of TraceLog to take
    now,           \* true time of the last line
    up, role, bal, promised, acc, commit, snap, recovery, waitUntil, leaseEnd,
    grantBal, grantUntil, earlierUntil,
    prepared,      \* ballots some candidate prepared
    sentPromises,  \* [src, bal, rem, entries, snapshot] of every promise sent
    proposed,      \* <<ballot, slot, value>> of every value a leader proposed
    votes,         \* <<node, ballot, slot>>: node accepted slot under ballot
    chosen,        \* <<slot, value>> of every commit
    echoes         \* <<node, ballot, stamp>>: node accepted the lease round stamped so

vars == <<i, now, up, role, bal, promised, acc, commit, snap, recovery, waitUntil, leaseEnd,
          grantBal, grantUntil, earlierUntil, prepared, sentPromises, proposed, votes, chosen,
          echoes>>

L == TraceLog[i]

Init ==
    /\ i = 1 /\ now = 0
    /\ up = [n \in Nodes |-> FALSE]
    /\ role = [n \in Nodes |-> "follower"]
    /\ bal = [n \in Nodes |-> None]
    /\ promised = [n \in Nodes |-> 0]
    /\ acc = [n \in Nodes |-> {}]
    /\ commit = [n \in Nodes |-> 0]
    /\ snap = [n \in Nodes |-> 0]
    /\ recovery = [n \in Nodes |-> 0]
    /\ waitUntil = [n \in Nodes |-> [from |-> 0, rem |-> 0]]
    /\ leaseEnd = [n \in Nodes |-> None]
    /\ grantBal = [n \in Nodes |-> None]
    /\ grantUntil = [n \in Nodes |-> 0]
    /\ earlierUntil = [n \in Nodes |-> 0]
    /\ prepared = {} /\ sentPromises = {} /\ proposed = {} /\ votes = {} /\ chosen = {}
    /\ echoes = {}

-----------------------------------------------------------------------------
(* Helpers over the abstract state *)

Entry(n, s) == IF \E e \in acc[n] : e[1] = s THEN CHOOSE e \in acc[n] : e[1] = s
               ELSE <<s, 0, "">>
EntriesFrom(n, from) == {e \in acc[n] : e[1] >= from}
Put(n, E) == {e \in acc[n] : ~\E f \in E : f[1] = e[1]} \cup E
Remaining(n, to, lt) ==
    LET until == IF grantBal[n] # to THEN Max(earlierUntil[n], grantUntil[n])
                 ELSE earlierUntil[n]
    IN Max(0, until - lt)
ChosenVal(s) == IF \E c \in chosen : c[1] = s THEN (CHOOSE c \in chosen : c[1] = s)[2] ELSE ""
Voters(b, s) == {v[1] : v \in {x \in votes : x[2] = b /\ x[3] = s}}
(* A lease granted to ballot b at local time lt (as the acceptor's _grant). *)
Grant(n, b, lt) ==
    /\ earlierUntil' = IF b # grantBal[n] THEN [earlierUntil EXCEPT ![n] = Max(@, grantUntil[n])]
                       ELSE earlierUntil
    /\ grantBal' = [grantBal EXCEPT ![n] = b]
    /\ grantUntil' = [grantUntil EXCEPT ![n] = lt + LeaseUs]
NoGrant == UNCHANGED <<grantBal, grantUntil, earlierUntil>>
Demoted(n, b) == IF b > promised[n] /\ role[n] # "follower"
                 THEN /\ role' = [role EXCEPT ![n] = "follower"]
                      /\ bal' = [bal EXCEPT ![n] = None]
                      /\ leaseEnd' = [leaseEnd EXCEPT ![n] = None]
                 ELSE UNCHANGED <<role, bal, leaseEnd>>
(* The largest remaining lease R its promisers reported, waited out from election on the *)
(* leader's clock scaled by the drift bound: W = ceil(R * WaitNum / WaitDen) (reduced     *)
(* (1 + rho) / (1 - rho); quorum.lease_wait_us), compared without overflowing 32 bits.   *)
WaitedOut(n, lt) ==
    LET d == lt - waitUntil[n].from
        r == waitUntil[n].rem
    IN r = 0 \/ d > WaitCap * r \/ (d >= 0 /\ d * WaitDen >= r * WaitNum)
Serving(n, lt) ==
    /\ role[n] = "leader" /\ commit[n] >= recovery[n]
    /\ WaitedOut(n, lt) /\ leaseEnd[n] # None /\ lt < leaseEnd[n]

-----------------------------------------------------------------------------
(* One action per line; each is the spec's action with that name. *)

Crash(n) ==
    /\ up[n]
    /\ up' = [up EXCEPT ![n] = FALSE]
    /\ role' = [role EXCEPT ![n] = "follower"]
    /\ bal' = [bal EXCEPT ![n] = None]
    /\ leaseEnd' = [leaseEnd EXCEPT ![n] = None]
    /\ UNCHANGED <<promised, acc, commit, snap, recovery, waitUntil, grantBal, grantUntil,
                   earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

Restart(n) ==
    /\ ~up[n]
    /\ L.promised >= promised[n]                       \* S3 across restart
    /\ \A e \in L.entries : <<e[2], e[1], e[3]>> \in proposed
    /\ up' = [up EXCEPT ![n] = TRUE]
    /\ promised' = [promised EXCEPT ![n] = L.promised]
    /\ acc' = [acc EXCEPT ![n] = L.entries]
    /\ commit' = [commit EXCEPT ![n] = L.commit]
    /\ snap' = [snap EXCEPT ![n] = L.snapshot]
    /\ grantBal' = [grantBal EXCEPT ![n] = None]
    /\ earlierUntil' = [earlierUntil EXCEPT ![n] = 0]
    /\ grantUntil' = [grantUntil EXCEPT ![n] = IF L.recovered THEN L.lt + LeaseUs ELSE 0]
    /\ UNCHANGED <<role, bal, recovery, waitUntil, leaseEnd, prepared, sentPromises,
                   proposed, votes, chosen, echoes>>

Prepare(n) ==
    /\ L.bal % Cardinality(Nodes) = n
    /\ L.bal \notin prepared /\ L.bal > promised[n] /\ role[n] # "leader"
    /\ L.from = commit[n] + 1
    /\ prepared' = prepared \cup {L.bal}
    /\ promised' = [promised EXCEPT ![n] = L.bal]
    /\ role' = [role EXCEPT ![n] = "candidate"]
    /\ bal' = [bal EXCEPT ![n] = L.bal]
    /\ sentPromises' = sentPromises \cup
          {[src |-> n, bal |-> L.bal, rem |-> Remaining(n, L.bal, L.lt),
            entries |-> EntriesFrom(n, L.from),
            snapshot |-> IF snap[n] >= L.from THEN snap[n] ELSE 0]}
    /\ UNCHANGED <<up, acc, commit, snap, recovery, waitUntil, leaseEnd, grantBal, grantUntil,
                   earlierUntil, proposed, votes, chosen, echoes>>

Promise(n) ==
    /\ L.bal \in prepared /\ L.bal >= promised[n]
    /\ L.rem = Remaining(n, L.bal, L.lt)
    /\ L.entries = EntriesFrom(n, L.from)
    /\ L.snapshot = IF snap[n] >= L.from THEN snap[n] ELSE 0
    /\ Demoted(n, L.bal)
    /\ promised' = [promised EXCEPT ![n] = L.bal]
    /\ sentPromises' = sentPromises \cup
          {[src |-> n, bal |-> L.bal, rem |-> L.rem, entries |-> L.entries,
            snapshot |-> L.snapshot]}
    /\ UNCHANGED <<up, acc, commit, snap, recovery, waitUntil, grantBal, grantUntil,
                   earlierUntil, prepared, proposed, votes, chosen, echoes>>

BecomeLeader(n) ==
    /\ role[n] = "candidate" /\ bal[n] = L.bal
    /\ n \in L.quorum /\ IsQuorum(L.quorum)
    /\ L.promises \subseteq sentPromises
    /\ {p.src : p \in L.promises} \cup {n} = L.quorum
    /\ \E own \in sentPromises :
       /\ own.src = n /\ own.bal = L.bal
       /\ LET P == L.promises \cup {own}
              s0 == Max(commit[n], MaxOf({p.snapshot : p \in P}))
              ents == {e \in UNION {p.entries : p \in P} : e[1] > s0}
              last == MaxOf({s0} \cup {e[1] : e \in ents})
              Best(s) == LET es == {e \in ents : e[1] = s} IN
                         IF es = {} THEN "noop"
                         ELSE (CHOOSE e \in es : \A f \in es : f[2] <= e[2])[3]
              newEnts == {<<s, L.bal, Best(s)>> : s \in s0 + 1..last}
          IN
          /\ \A s \in commit[n] + 1..s0 : ChosenVal(s) # ""
          /\ L.commit = s0 /\ L.entries = newEnts
          /\ acc' = [acc EXCEPT ![n] = {e \in Put(n, newEnts) : e[1] > s0}]
          /\ commit' = [commit EXCEPT ![n] = s0]
          /\ snap' = [snap EXCEPT ![n] = IF s0 > commit[n] THEN s0 ELSE @]
          /\ recovery' = [recovery EXCEPT ![n] = last]
          /\ waitUntil' = [waitUntil EXCEPT ![n] = [from |-> L.lt,
                                                     rem |-> MaxOf({p.rem : p \in P})]]
          /\ proposed' = proposed \cup {<<L.bal, e[1], e[3]>> : e \in newEnts}
          /\ votes' = votes \cup {<<n, L.bal, e[1]>> : e \in newEnts}
    /\ role' = [role EXCEPT ![n] = "leader"]
    /\ leaseEnd' = [leaseEnd EXCEPT ![n] = None]
    /\ UNCHANGED <<up, bal, promised, grantBal, grantUntil, earlierUntil, prepared,
                   sentPromises, chosen, echoes>>

Propose(n) ==
    /\ role[n] = "leader" /\ bal[n] = L.bal
    /\ \A e \in L.entries :
        /\ e[2] = L.bal /\ e[1] > commit[n]
        /\ \A p \in proposed : p[1] = L.bal /\ p[2] = e[1] => p[3] = e[3]
    /\ acc' = [acc EXCEPT ![n] = Put(n, L.entries)]
    /\ proposed' = proposed \cup {<<L.bal, e[1], e[3]>> : e \in L.entries}
    /\ votes' = votes \cup {<<n, L.bal, e[1]>> : e \in L.entries}
    /\ UNCHANGED <<up, role, bal, promised, commit, snap, recovery, waitUntil, leaseEnd,
                   grantBal, grantUntil, earlierUntil, prepared, sentPromises, chosen, echoes>>

Accept(n) ==
    /\ L.bal >= promised[n]
    /\ \A e \in L.entries :
        /\ e[2] = L.bal
        /\ Entry(n, e[1])[2] = L.bal => Entry(n, e[1])[3] = e[3]   \* no change under a ballot
        /\ <<L.bal, e[1], e[3]>> \in proposed
    /\ Demoted(n, L.bal)
    /\ promised' = [promised EXCEPT ![n] = L.bal]
    /\ acc' = [acc EXCEPT ![n] = Put(n, L.entries)]
    /\ votes' = votes \cup {<<n, L.bal, s>> :
                             s \in {s \in L.slots[1]..L.slots[2] :
                                      Entry(n, s)[2] = L.bal
                                      \/ \E e \in L.entries : e[1] = s}}
    /\ Grant(n, L.bal, L.lt)
    /\ echoes' = echoes \cup {<<n, L.bal, L.stamp>>}
    /\ UNCHANGED <<up, commit, snap, recovery, waitUntil, prepared, sentPromises, proposed,
                   chosen>>

Commit(n) ==
    /\ role[n] = "leader" /\ bal[n] = L.bal /\ L.commit > commit[n]
    /\ \A s \in commit[n] + 1..L.commit :
        /\ IsQuorum(Voters(L.bal, s))
        /\ ChosenVal(s) \in {"", Entry(n, s)[3]}                     \* S1
    /\ chosen' = chosen \cup {<<s, Entry(n, s)[3]>> : s \in commit[n] + 1..L.commit}
    /\ commit' = [commit EXCEPT ![n] = L.commit]
    /\ UNCHANGED <<up, role, bal, promised, acc, snap, recovery, waitUntil, leaseEnd,
                   grantBal, grantUntil, earlierUntil, prepared, sentPromises, proposed,
                   votes, echoes>>

LearnCommit(n) ==
    /\ L.commit > commit[n]
    /\ \A s \in commit[n] + 1..L.commit :
        Entry(n, s)[2] = L.bal /\ ChosenVal(s) = Entry(n, s)[3]
    /\ commit' = [commit EXCEPT ![n] = L.commit]
    /\ UNCHANGED <<up, role, bal, promised, acc, snap, recovery, waitUntil, leaseEnd,
                   grantBal, grantUntil, earlierUntil, prepared, sentPromises, proposed,
                   votes, chosen, echoes>>

CatchUp(n) ==
    /\ \A e \in L.entries : ChosenVal(e[1]) = e[3]
    /\ L.commit >= commit[n]
    /\ \A s \in commit[n] + 1..L.commit : ChosenVal(s) # ""
    /\ acc' = [acc EXCEPT ![n] = Put(n, L.entries)]
    /\ commit' = [commit EXCEPT ![n] = L.commit]
    /\ UNCHANGED <<up, role, bal, promised, snap, recovery, waitUntil, leaseEnd, grantBal,
                   grantUntil, earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

Compact(n) ==
    /\ L.snapshot >= snap[n] /\ L.snapshot <= commit[n]
    /\ snap' = [snap EXCEPT ![n] = L.snapshot]
    /\ acc' = [acc EXCEPT ![n] = {e \in @ : e[1] > L.snapshot}]
    /\ UNCHANGED <<up, role, bal, promised, commit, recovery, waitUntil, leaseEnd, grantBal,
                   grantUntil, earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

Heartbeat(n) ==
    /\ role[n] = "leader" /\ bal[n] = L.bal
    /\ leaseEnd' = [leaseEnd EXCEPT ![n] = L.lease]
    /\ IF L.sent THEN Grant(n, L.bal, L.lt) ELSE NoGrant
    /\ echoes' = IF L.sent THEN echoes \cup {<<n, L.bal, L.lt>>} ELSE echoes
    \* the lease runs LeaseLenUs from a round a quorum of the configuration echoed
    /\ L.lease # None =>
         IsQuorum({a \in Nodes : \E e \in echoes' : e[1] = a /\ e[2] = L.bal
                                                  /\ e[3] >= L.lease - LeaseLenUs})
    /\ UNCHANGED <<up, role, bal, promised, acc, commit, snap, recovery, waitUntil, prepared,
                   sentPromises, proposed, votes, chosen>>

ReplyWrite(n) ==
    /\ Serving(n, L.lt)
    /\ \A s \in L.replies : s <= commit[n] /\ ChosenVal(s) # ""
    /\ UNCHANGED <<up, role, bal, promised, acc, commit, snap, recovery, waitUntil, leaseEnd,
                   grantBal, grantUntil, earlierUntil, prepared, sentPromises, proposed,
                   votes, chosen, echoes>>

ServeRead(n) ==
    /\ Serving(n, L.lt)
    /\ UNCHANGED <<up, role, bal, promised, acc, commit, snap, recovery, waitUntil, leaseEnd,
                   grantBal, grantUntil, earlierUntil, prepared, sentPromises, proposed,
                   votes, chosen, echoes>>

StepDown(n) ==
    /\ role[n] = "leader"
    /\ role' = [role EXCEPT ![n] = "follower"]
    /\ bal' = [bal EXCEPT ![n] = None]
    /\ leaseEnd' = [leaseEnd EXCEPT ![n] = None]
    /\ grantUntil' = IF grantBal[n] = bal[n]
                     THEN [grantUntil EXCEPT ![n] = IF @ > L.lt THEN L.lt ELSE @]
                     ELSE grantUntil
    /\ UNCHANGED <<up, promised, acc, commit, snap, recovery, waitUntil, grantBal,
                   earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

(* A leader or candidate that saw a higher ballot in any message (SeeBallot). *)
Demote(n) ==
    /\ role[n] # "follower"
    /\ L.seen = None \/ L.seen > bal[n]
    /\ role' = [role EXCEPT ![n] = "follower"]
    /\ bal' = [bal EXCEPT ![n] = None]
    /\ leaseEnd' = [leaseEnd EXCEPT ![n] = None]
    /\ UNCHANGED <<up, promised, acc, commit, snap, recovery, waitUntil, grantBal, grantUntil,
                   earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

Release(n) ==
    /\ grantUntil' = IF grantBal[n] = L.bal
                     THEN [grantUntil EXCEPT ![n] = IF @ > L.lt THEN L.lt ELSE @]
                     ELSE grantUntil
    /\ UNCHANGED <<up, role, bal, promised, acc, commit, snap, recovery, waitUntil, leaseEnd,
                   grantBal, earlierUntil, prepared, sentPromises, proposed, votes, chosen,
                   echoes>>

-----------------------------------------------------------------------------
Step(n) ==
    \/ L.action = "Crash" /\ Crash(n)
    \/ L.action = "Restart" /\ Restart(n)
    \/ /\ up[n]
       /\ \/ L.action = "Prepare" /\ Prepare(n)
          \/ L.action = "Promise" /\ Promise(n)
          \/ L.action = "BecomeLeader" /\ BecomeLeader(n)
          \/ L.action = "Propose" /\ Propose(n)
          \/ L.action = "Accept" /\ Accept(n)
          \/ L.action = "Commit" /\ Commit(n)
          \/ L.action = "LearnCommit" /\ LearnCommit(n)
          \/ L.action = "CatchUp" /\ CatchUp(n)
          \/ L.action = "Compact" /\ Compact(n)
          \/ L.action = "Heartbeat" /\ Heartbeat(n)
          \/ L.action = "ReplyWrite" /\ ReplyWrite(n)
          \/ L.action = "ServeRead" /\ ServeRead(n)
          \/ L.action = "StepDown" /\ StepDown(n)
          \/ L.action = "Demote" /\ Demote(n)
          \/ L.action = "Release" /\ Release(n)

Next ==
    \/ /\ i <= Len(TraceLog)
       /\ L.t >= now
       /\ Step(L.node)
       /\ i' = i + 1
       /\ now' = L.t
    \/ /\ i > Len(TraceLog)      \* Done: every line was an allowed step
       /\ UNCHANGED vars

Spec == Init /\ [][Next]_vars

(* What TLC reports on a rejected trace: the line (1-based in the file, Init = 1). *)
BadLine == i + 1
=============================================================================
