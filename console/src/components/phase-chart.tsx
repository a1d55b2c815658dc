import type { PhaseTiming } from '../api/types.js';
import { seconds } from '../format.js';

// A cold start split by phase: one bar per phase, its length the phase's mean against the
// longest, its figure written beside it (the chart never says anything by length alone).

export function PhaseChart({ phases }: { phases: PhaseTiming[] }) {
  if (phases.length === 0) return <p class="muted">No cold start yet.</p>;
  const longest = Math.max(...phases.map((phase) => phase.meanSeconds), 0.001);
  return (
    <dl class="phase-chart" aria-label="Cold start by phase (mean)">
      {phases.map((phase) => (
        <div key={phase.phase} class="phase-row">
          <dt>{phase.phase.replace('_', ' ')}</dt>
          <dd>
            <span class="bar" style={{ width: `${Math.max(1, (phase.meanSeconds / longest) * 55)}%` }} />
            <span class="figure">
              {seconds(phase.meanSeconds)} <small>×{phase.count}</small>
            </span>
          </dd>
        </div>
      ))}
    </dl>
  );
}
