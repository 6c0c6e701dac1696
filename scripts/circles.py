"""The circles of a dependency graph, for check-layers.py and
check-calls.py: Tarjan's strongly connected components of more than one
node, each sorted, in the order the nodes sort. deps maps a node to the
nodes it depends on (any iterable; a dict's keys count)."""


def circles(deps):
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(m):
        index[m] = low[m] = len(index)
        stack.append(m)
        on.add(m)
        for d in sorted(deps.get(m, ())):
            if d not in index:
                visit(d)
                low[m] = min(low[m], low[d])
            elif d in on:
                low[m] = min(low[m], index[d])
        if low[m] == index[m]:
            scc = []
            while True:
                d = stack.pop()
                on.discard(d)
                scc.append(d)
                if d == m:
                    break
            if len(scc) > 1:
                found.append(sorted(scc))

    for m in sorted(deps):
        if m not in index:
            visit(m)
    return found
