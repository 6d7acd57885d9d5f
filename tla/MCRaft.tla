------------------------------- MODULE MCRaft -------------------------------
(***************************************************************************)
(* Model-checking wrapper for Raft: the symmetry TLC may use. Servers of   *)
(* the initial configuration are interchangeable among themselves, spares  *)
(* (servers outside it) among themselves, client commands among themselves.*)
(***************************************************************************)
EXTENDS Raft, TLC

Symmetry == Permutations(InitConfig) \cup Permutations(Servers \ InitConfig)
                \cup Permutations(Values)

(***************************************************************************)
(* Search limits for the five-server membership models: at most one       *)
(* candidate at a time, and no step-down other than by seeing a higher     *)
(* term. They only prune behaviours, so a violation TLC reports under them *)
(* is a behaviour of Spec; a pass under them covers only what they keep.   *)
(***************************************************************************)
OneCandidate == Cardinality({i \in Servers : role[i] = "candidate"}) <= 1
NoStepDown == ~\E i \in Servers : StepDown(i)

(***************************************************************************)
(* Witnesses: "invariants" that must FAIL, so TLC shows the passing models  *)
(* are not vacuous (the behaviour they cover is reachable).                *)
(***************************************************************************)

(* A leader commits an entry of an earlier term (indirectly, through one of its own). *)
NoOldTermCommitted == ~\E c \in committed : c.entry.term < c.by

(* A configuration change commits. *)
NoConfigCommitted == ~\E c \in committed : c.entry.kind = "cfg"
=============================================================================
