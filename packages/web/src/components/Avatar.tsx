import { memo, useState } from 'react';

export interface AvatarUser {
  username: string;
  avatarUrl: string | null;
}

// Saturated hues dark enough that white initials on them pass WCAG AA (>= 4.5:1).
const PALETTE = ['#4f46e5', '#7c3aed', '#c026d3', '#db2777', '#dc2626', '#c2410c', '#a16207', '#15803d', '#0f766e', '#0369a1', '#1d4ed8', '#6d28d9'];

function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.toLowerCase().charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length]!;
}

function initials(name: string): string {
  const parts = name.split(/[._\-\s]+/).filter(Boolean);
  const letters = parts.length >= 2 ? parts[0]![0]! + parts[1]![0]! : name.slice(0, 2);
  return letters.toUpperCase();
}

/** A profile picture, or colored initials when there is none or it fails to load. Decorative: names are always shown beside it. */
export const Avatar = memo(function Avatar({ user, size = 36, className = '' }: { user: AvatarUser; size?: number; className?: string }) {
  const [failedUrl, setFailedUrl] = useState<string | null>(null);
  const style = { width: size, height: size, fontSize: Math.round(size * 0.4) };
  if (user.avatarUrl && failedUrl !== user.avatarUrl) {
    return (
      <img
        className={`avatar ${className}`}
        style={style}
        src={user.avatarUrl}
        alt=""
        width={size}
        height={size}
        loading="lazy"
        decoding="async"
        draggable={false}
        onError={() => setFailedUrl(user.avatarUrl)}
      />
    );
  }
  return (
    <span className={`avatar avatar-initials ${className}`} style={{ ...style, background: colorFor(user.username) }} aria-hidden="true">
      {initials(user.username)}
    </span>
  );
});
