import { stripBidi } from '../text';

/** A user's name: isolated from the text around it (`<bdi>`), without bidi controls. */
export function Name({ name, className }: { name: string; className?: string }) {
  return <bdi className={className}>{stripBidi(name)}</bdi>;
}
