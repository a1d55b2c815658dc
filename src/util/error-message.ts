// What a caught value says, for logs, events and status messages: an Error's message,
// anything else (a thrown string, a rejected value) as text.

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
