import { ClockIcon } from './icons';

/**
 * How a message on its way is described, everywhere it is: under a pending bubble and in the
 * composer's offline note. One wording, so the reader learns it once.
 */
export const DELIVERY_WORDS = { sending: 'Sending…', pending: 'Waiting for connection…' } as const;

export function DeliveryStatus({ state, count }: { state: keyof typeof DELIVERY_WORDS; count?: number }) {
  return (
    <span className="delivery-status" data-state={state}>
      <ClockIcon size={13} /> {DELIVERY_WORDS[state]}
      {count !== undefined && ` (${count} message${count === 1 ? '' : 's'})`}
    </span>
  );
}
