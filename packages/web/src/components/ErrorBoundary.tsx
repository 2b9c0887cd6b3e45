import { Component, Fragment, type ReactNode } from 'react';

interface ErrorBoundaryProps {
  /** What stopped working, in words: "the message list". */
  what: string;
  /** Classes for the apology, so it takes the failed part's place in the layout. */
  className?: string;
  /** What "Reload" does. Default: mount the part again, fresh; the rest of the screen keeps its state. */
  onReload?: () => void;
  children: ReactNode;
}

interface ErrorBoundaryState {
  failed: boolean;
  /** Bumped by "Reload": a new key mounts the children from scratch. */
  generation: number;
}

/**
 * An error thrown while rendering unmounts everything up to the nearest boundary; without one,
 * that is the whole app and the reader faces a blank page. Each independent part of the screen
 * has its own, so a failing list leaves the composer, the sidebar and the connection working.
 * React reports the error itself (console.error) when a boundary catches it.
 */
export class ErrorBoundary extends Component<ErrorBoundaryProps, ErrorBoundaryState> {
  override state: ErrorBoundaryState = { failed: false, generation: 0 };

  static getDerivedStateFromError(): Partial<ErrorBoundaryState> {
    return { failed: true };
  }

  private readonly reload = () => {
    if (this.props.onReload) this.props.onReload();
    else this.setState((s) => ({ failed: false, generation: s.generation + 1 }));
  };

  override render(): ReactNode {
    const { what, className = '', children } = this.props;
    if (!this.state.failed) return <Fragment key={this.state.generation}>{children}</Fragment>;
    return (
      <div className={`crash ${className}`} role="alert">
        <p>Sorry, {what} stopped working.</p>
        <button type="button" className="btn btn-secondary" onClick={this.reload}>
          Reload
        </button>
      </div>
    );
  }
}
