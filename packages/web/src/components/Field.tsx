import { useId, useState, type InputHTMLAttributes, type Ref } from 'react';
import { AlertIcon, EyeIcon, EyeOffIcon } from './icons';

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'id'> {
  label: string;
  error?: string | undefined;
  hint?: string;
  optional?: boolean;
  password?: boolean;
  inputRef?: Ref<HTMLInputElement>;
}

/** A labelled input whose error is announced and linked to it (aria-describedby). */
export function Field({ label, error, hint, optional, password, inputRef, ...input }: FieldProps) {
  const id = useId();
  const [visible, setVisible] = useState(false);
  const described = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(' ') || undefined;
  const control = (
    <input
      {...input}
      ref={inputRef}
      id={id}
      className="input"
      type={password ? (visible ? 'text' : 'password') : (input.type ?? 'text')}
      aria-invalid={error ? true : undefined}
      aria-describedby={described}
    />
  );
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {label} {optional && <span className="optional">(optional)</span>}
      </label>
      {password ? (
        <div className="input-wrap">
          {control}
          <button
            type="button"
            className="icon-btn"
            aria-label={visible ? 'Hide password' : 'Show password'}
            aria-pressed={visible}
            aria-controls={id}
            onClick={() => setVisible((v) => !v)}
          >
            {visible ? <EyeOffIcon size={18} /> : <EyeIcon size={18} />}
          </button>
        </div>
      ) : (
        control
      )}
      {hint && !error && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-error`}>
          <AlertIcon size={14} />
          {error}
        </p>
      )}
    </div>
  );
}
