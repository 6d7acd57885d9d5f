------------------------------ MODULE MCPaxlab ------------------------------
(***************************************************************************)
(* Model-checking wrapper for Paxlab: the symmetry TLC may use. Nodes are   *)
(* interchangeable (ballots belong to no node: a candidate takes any unused *)
(* ballot above its promise), storage replicas among themselves and spares *)
(* among themselves; client commands are interchangeable.                  *)
(***************************************************************************)
EXTENDS Paxlab, TLC

Symmetry == Permutations(Storage) \cup Permutations(Spares) \cup Permutations(Values)

(***************************************************************************)
(* Witnesses: "invariants" that must FAIL, so TLC shows the passing models  *)
(* are not vacuous (the behaviour they cover is reachable).                *)
(***************************************************************************)

(* A leader serves after waiting out a lease its promisers reported running. *)
NoWaitedHandover ==
    ~\E n \in Nodes :
        /\ Serving(n)
        /\ \E m \in msgs : m.type = "promise" /\ m.bal = ldr[n].bal /\ m.rem > 0

(* A storage replica is removed after a log replica was added, and the removal commits. *)
NoStorageRemoved ==
    ~\E n \in Nodes, c \in cfgChanges :
        /\ \E d \in Storage : d \in c[1] /\ d \notin c[2]
        /\ \E s \in 1..commitIndex[n] : accepted[n][s].val = CfgVal(c[2])
=============================================================================
