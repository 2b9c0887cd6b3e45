import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import { initTheme } from './theme';
import './styles/base.css';
import './styles/auth.css';
import './styles/chat.css';
import './styles/messages.css';
import './styles/profile.css';

initTheme();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ErrorBoundary what="Chatter" className="boot" onReload={() => location.reload()}>
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
