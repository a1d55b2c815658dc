import type { Command } from 'commander';
import { KINDS } from '../model/types.js';

// Shell completion scripts, generated from the program itself so that every command and
// flag added later completes without anyone remembering to list it here. Object names
// come from the running Luma (`luma get KIND -o name`), quietly nothing when it is down.

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Commands whose first argument is a kind (or KIND/NAME) and whose second may be a name. */
const OBJECT_COMMANDS = ['get', 'describe', 'delete', 'logs', 'wait', 'events', 'renew'];

export interface CommandShape {
  name: string;
  flags: string[];
  subcommands: CommandShape[];
}

export function commandShape(command: Command): CommandShape {
  return {
    name: command.name(),
    flags: command.options
      .flatMap((option) => [option.short, option.long].filter((flag): flag is string => flag !== undefined))
      .concat('--help'),
    subcommands: command.commands.filter((sub) => sub.name() !== 'help').map(commandShape),
  };
}

function words(list: string[]): string {
  return list.join(' ');
}

function bashScript(program: CommandShape): string {
  const kinds = KINDS.map((kind) => kind.toLowerCase());
  const flagCases = program.subcommands
    .map((command) => {
      const nested = command.subcommands.map(
        (sub) => `      ${command.name}/${sub.name}) flags="${words(sub.flags)}" ;;`,
      );
      return [`      ${command.name}) flags="${words(command.flags)}" ;;`, ...nested].join('\n');
    })
    .join('\n');
  const subcommandCases = program.subcommands
    .filter((command) => command.subcommands.length > 0)
    .map(
      (command) =>
        `      ${command.name}) COMPREPLY=( $(compgen -W "${words(command.subcommands.map((sub) => sub.name))}" -- "$cur") ); return ;;`,
    )
    .join('\n');
  return `# luma completion for bash. Load it with:  source <(luma completion bash)
_luma_names() {
  # KIND or KIND/prefix: names from the running Luma; nothing when it cannot be reached.
  luma get "$1" -o name 2>/dev/null
}

_luma() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local command="\${COMP_WORDS[1]}" key="\${COMP_WORDS[1]}"
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${words(program.subcommands.map((command) => command.name))} --server --help" -- "$cur") )
    return
  fi
  if [[ $COMP_CWORD -ge 3 && "\${COMP_WORDS[2]}" != -* ]]; then key="$command/\${COMP_WORDS[2]}"; fi
  case "$prev" in
    -f|--filename|--config|--state-dir|--manifests) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "wide yaml json name jsonpath= custom-columns=" -- "$cur") ); return ;;
    --for) COMPREPLY=( $(compgen -W "condition=Ready condition=Stalled delete" -- "$cur") ); return ;;
    --types) COMPREPLY=( $(compgen -W "Normal Warning" -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    local flags=""
    case "$key" in
${flagCases}
    esac
    if [[ -z "$flags" ]]; then
      case "$command" in
${flagCases}
      esac
    fi
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
    return
  fi
  if [[ $COMP_CWORD -eq 2 ]]; then
    case "$command" in
${subcommandCases}
    esac
  fi
  case "$command" in
    completion) COMPREPLY=( $(compgen -W "${words([...COMPLETION_SHELLS])}" -- "$cur") ) ;;
    ${OBJECT_COMMANDS.join('|')})
      if [[ "$cur" == */* ]]; then
        COMPREPLY=( $(compgen -W "$(_luma_names "\${cur%%/*}")" -- "$cur") )
      elif [[ $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=( $(compgen -W "${words(kinds)}${'$([[ $command == get ]] && echo " usage sync")'}" -- "$cur") )
      elif [[ $COMP_CWORD -eq 3 ]]; then
        COMPREPLY=( $(compgen -W "$(_luma_names "\${COMP_WORDS[2]}" | sed 's|.*/||')" -- "$cur") )
      fi ;;
  esac
}
complete -F _luma luma
`;
}

function zshScript(program: CommandShape): string {
  // zsh runs the bash function through its own bashcompinit, so both shells complete alike.
  return `# luma completion for zsh. Load it with:  source <(luma completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript(program).replace(/^# luma completion for bash.*\n/, '')}`;
}

export function completionScript(shell: CompletionShell, program: Command): string {
  const shape = commandShape(program);
  return shell === 'bash' ? bashScript(shape) : zshScript(shape);
}
