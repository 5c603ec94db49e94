"""The waiting room in front of hot sales (issue 19, rule 12): ``rooms`` for the operator, ``queue`` for
buyers and the buy path's admission check, ``state`` for each process's cached view."""
